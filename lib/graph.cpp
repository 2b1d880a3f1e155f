#include "graph.hpp"

#include <array>

#include <fmt/format.h>

#include <algorithm>

#include "error.hpp"
#include "limits.hpp"

namespace effscale {

std::string_view to_string(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConv: return "conv";
    case LayerKind::kDepthwiseConv: return "dwconv";
    case LayerKind::kGlobalAvgPool: return "avgpool";
    case LayerKind::kChannelScale: return "scale";
    case LayerKind::kFullyConnected: return "fc";
  }
  return "?";
}

std::string_view to_string(LayerRole role) {
  switch (role) {
    case LayerRole::kStem: return "stem";
    case LayerRole::kExpand: return "expand";
    case LayerRole::kDepthwise: return "depthwise";
    case LayerRole::kSePool: return "se_pool";
    case LayerRole::kSeReduce: return "se_reduce";
    case LayerRole::kSeExpand: return "se_expand";
    case LayerRole::kSeScale: return "se_scale";
    case LayerRole::kProject: return "project";
    case LayerRole::kHead: return "head";
    case LayerRole::kHeadPool: return "pool";
    case LayerRole::kClassifier: return "fc";
  }
  return "?";
}

namespace {

class Builder {
 public:
  explicit Builder(Graph& g) : g_(g) {}

  int input(int c, int h, int w) {
    g_.tensors.push_back({c, h, w, -1, -1});
    return static_cast<int>(g_.tensors.size()) - 1;
  }

  // Appends `layer` reading tensor `in`; fills shapes and padding from kernel/stride.
  int add(Layer layer, int in, int out_c) {
    const TensorInfo& src = g_.tensors[in];
    layer.input = in;
    layer.in_c = src.c;
    layer.in_h = src.h;
    layer.in_w = src.w;
    layer.out_c = out_c;
    if (layer.kind == LayerKind::kGlobalAvgPool) {
      layer.out_h = layer.out_w = 1;
    } else if (layer.kind == LayerKind::kFullyConnected) {
      layer.out_h = layer.out_w = 1;
    } else {
      layer.out_h = same_output_size(src.h, layer.stride);
      layer.out_w = same_output_size(src.w, layer.stride);
      const int pad_h = std::max((layer.out_h - 1) * layer.stride + layer.kernel - src.h, 0);
      const int pad_w = std::max((layer.out_w - 1) * layer.stride + layer.kernel - src.w, 0);
      layer.pad_top = pad_h / 2;
      layer.pad_bottom = pad_h - layer.pad_top;
      layer.pad_left = pad_w / 2;
      layer.pad_right = pad_w - layer.pad_left;
    }
    const int index = static_cast<int>(g_.layers.size());
    g_.tensors.push_back({layer.out_c, layer.out_h, layer.out_w, index, -1});
    layer.output = static_cast<int>(g_.tensors.size()) - 1;
    g_.layers.push_back(layer);
    return layer.output;
  }

  static Layer conv(LayerRole role, int stage, int block, int kernel, int stride,
                    Activation act, bool bn, bool bias) {
    Layer l;
    l.kind = LayerKind::kConv;
    l.role = role;
    l.stage = stage;
    l.block = block;
    l.kernel = kernel;
    l.stride = stride;
    l.activation = act;
    l.batch_norm = bn;
    l.bias = bias;
    return l;
  }

 private:
  Graph& g_;
};

}  // namespace

std::int64_t layer_count(const NetworkSpec& spec) {
  std::int64_t layers = 1;  // stem
  for (const BlockArgs& stage : spec.stages) {
    const std::int64_t per_block = (stage.has_expansion() ? 1 : 0) + 1 + (stage.has_se() ? 4 : 0) + 1;
    layers = checked_add(layers, checked_mul(stage.repeats, per_block, "layers"), "layers");
  }
  return checked_add(layers, (spec.head_channels > 0 ? 1 : 0) + 2, "layers");  // head, pool, classifier
}

std::int64_t layer_list_bytes(const NetworkSpec& spec) {
  const std::int64_t n = layer_count(spec);
  return checked_mul(n, static_cast<std::int64_t>(sizeof(Layer) + sizeof(TensorInfo)), "layer list bytes");
}

void expand(const NetworkSpec& spec, Graph& g) {
  const std::int64_t layers = layer_count(spec);
  if (layers > kMaxLayers)
    throw Error(fmt::format("the network would have {} layers; effscale builds at most {} (lower --depth or the "
                            "baseline's repeats)",
                            layers, kMaxLayers));
  g.tensors.clear();
  g.layers.clear();
  Builder b(g);
  const Activation act = spec.activation;
  int x = b.input(spec.image_channels, spec.resolution, spec.resolution);
  x = b.add(Builder::conv(LayerRole::kStem, -1, -1, spec.stem.kernel, spec.stem.stride, act, true, false),
            x, spec.stem.channels);

  for (int s = 0; s < static_cast<int>(spec.stages.size()); ++s) {
    const BlockArgs& stage = spec.stages[s];
    for (int r = 0; r < stage.repeats; ++r) {
      const int block_in = r == 0 ? stage.in_channels : stage.out_channels;
      const int stride = r == 0 ? stage.stride : 1;
      const int expanded = expanded_channels(block_in, stage.expand_ratio);
      const int block_input = x;
      if (stage.has_expansion()) {
        x = b.add(Builder::conv(LayerRole::kExpand, s, r, 1, 1, act, true, false), x, expanded);
      }
      Layer dw = Builder::conv(LayerRole::kDepthwise, s, r, stage.kernel, stride, act, true, false);
      dw.kind = LayerKind::kDepthwiseConv;
      dw.groups = expanded;
      x = b.add(dw, x, expanded);
      if (stage.has_se()) {
        const int squeezed = std::max(1, static_cast<int>(block_in * *stage.se_ratio));
        Layer pool;
        pool.kind = LayerKind::kGlobalAvgPool;
        pool.role = LayerRole::kSePool;
        pool.stage = s;
        pool.block = r;
        int gate = b.add(pool, x, expanded);
        gate = b.add(Builder::conv(LayerRole::kSeReduce, s, r, 1, 1, act, false, true), gate, squeezed);
        gate = b.add(Builder::conv(LayerRole::kSeExpand, s, r, 1, 1, Activation::kSigmoid, false, true),
                     gate, expanded);
        Layer scale;
        scale.kind = LayerKind::kChannelScale;
        scale.role = LayerRole::kSeScale;
        scale.stage = s;
        scale.block = r;
        scale.gate = gate;
        x = b.add(scale, x, expanded);
      }
      Layer project = Builder::conv(LayerRole::kProject, s, r, 1, 1, Activation::kNone, true, false);
      if (stage.id_skip && stride == 1 && block_in == stage.out_channels) project.residual = block_input;
      x = b.add(project, x, stage.out_channels);
    }
  }

  if (spec.head_channels > 0) {
    x = b.add(Builder::conv(LayerRole::kHead, -1, -1, 1, 1, act, true, false), x, spec.head_channels);
  }
  Layer pool;
  pool.kind = LayerKind::kGlobalAvgPool;
  pool.role = LayerRole::kHeadPool;
  const int pooled_c = g.tensors[x].c;
  x = b.add(pool, x, pooled_c);
  Layer fc;
  fc.kind = LayerKind::kFullyConnected;
  fc.role = LayerRole::kClassifier;
  fc.bias = true;
  b.add(fc, x, spec.classes);

  for (int i = 0; i < static_cast<int>(g.layers.size()); ++i) {
    const Layer& l = g.layers[i];
    for (int t : {l.input, l.gate, l.residual}) {
      if (t >= 0) g.tensors[t].last_use = i;
    }
  }
}

Graph expand(const NetworkSpec& spec) {
  Graph g;
  expand(spec, g);
  return g;
}

std::string layer_name(const Layer& l) {
  if (l.stage < 0) return std::string(to_string(l.role));
  return fmt::format("stage{}.block{}.{}", l.stage + 1, l.block + 1, to_string(l.role));
}

std::string network_id(const Graph& graph) {
  // FNV-1a over the fields' 8 little-endian bytes each. XOR with a zero byte changes nothing, so
  // a value's zero high bytes (most fields are small) are one multiplication by a power of the
  // prime: the same hash, three times faster (a search hashes every candidate's layer list).
  constexpr std::uint64_t prime = 1099511628211ull;
  static const auto powers = [] {
    std::array<std::uint64_t, 9> p{};
    p[0] = 1;
    for (size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * prime;
    return p;
  }();
  std::uint64_t h = 1469598103934665603ull;
  auto add = [&](std::int64_t v) {
    auto u = static_cast<std::uint64_t>(v);
    int i = 0;
    for (; i < 8 && u != 0; ++i, u >>= 8) {
      h ^= u & 0xff;
      h *= prime;
    }
    h *= powers[static_cast<size_t>(8 - i)];
  };
  add(static_cast<std::int64_t>(graph.layers.size()));
  for (const Layer& l : graph.layers) {
    for (std::int64_t v : {std::int64_t(l.kind), std::int64_t(l.role), std::int64_t(l.input), std::int64_t(l.gate),
                           std::int64_t(l.residual), std::int64_t(l.output), std::int64_t(l.in_c), std::int64_t(l.in_h),
                           std::int64_t(l.in_w), std::int64_t(l.out_c), std::int64_t(l.out_h), std::int64_t(l.out_w),
                           std::int64_t(l.kernel), std::int64_t(l.stride), std::int64_t(l.groups),
                           std::int64_t(l.pad_top), std::int64_t(l.pad_left), std::int64_t(l.pad_bottom),
                           std::int64_t(l.pad_right), std::int64_t(l.activation), std::int64_t(l.batch_norm),
                           std::int64_t(l.bias)})
      add(v);
  }
  return fmt::format("{:016x}", h);
}

}  // namespace effscale
