#include "onednn/network.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <xmmintrin.h>
#include <pmmintrin.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/dnnl/dnnl_debug.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <utility>
#include <unordered_map>
#include <unordered_set>

#include "error.hpp"
#include "failpoint.hpp"
#include "weights.hpp"

namespace effscale {

std::string_view to_string(ActivationLayout layout) {
  switch (layout) {
    case ActivationLayout::kBlocked: return "blocked";
    case ActivationLayout::kNhwc: return "nhwc";
  }
  return "?";
}

std::string_view to_string(ProfileGroup group) {
  switch (group) {
    case ProfileGroup::kStem: return "stem";
    case ProfileGroup::kPointwise: return "pointwise conv";
    case ProfileGroup::kDepthwise: return "depthwise conv";
    case ProfileGroup::kSqueezeExcite: return "squeeze-excite";
    case ProfileGroup::kHead: return "head";
    case ProfileGroup::kReorder: return "reorders";
  }
  return "?";
}

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

// A tensor in the primitive program: a graph tensor or a temporary made by a reorder.
struct Value {
  memory::desc md;
  int first_step = -1;  // step that writes it (-1: written before the first step)
  int last_step = -1;   // last step that reads it
  int alias_of = -1;    // shares the storage of this value (in-place ops)
  bool pinned = false;  // alive for the whole run (input image, network output)
};

// An own kernel step (kernels.hpp): gets the data pointers of its value_args, in their order.
using CustomRun = std::function<void(float* const* values)>;

struct Step {
  dnnl::primitive primitive;
  CustomRun custom;                             // set: an own kernel step instead of `primitive`
  std::vector<std::pair<int, int>> value_args;  // (DNNL_ARG_*, value id); own steps: (position, value id)
  std::unordered_map<int, memory> fixed_args;   // weights, bias
  memory::desc scratchpad;
  PrimitiveInfo info;
};

ProfileGroup group_of(const Layer& l) {
  switch (l.role) {
    case LayerRole::kStem: return ProfileGroup::kStem;
    case LayerRole::kExpand:
    case LayerRole::kProject: return ProfileGroup::kPointwise;
    case LayerRole::kDepthwise: return ProfileGroup::kDepthwise;
    case LayerRole::kSePool:
    case LayerRole::kSeReduce:
    case LayerRole::kSeExpand:
    case LayerRole::kSeScale: return ProfileGroup::kSqueezeExcite;
    case LayerRole::kHead:
    case LayerRole::kHeadPool:
    case LayerRole::kClassifier: return ProfileGroup::kHead;
  }
  return ProfileGroup::kHead;
}

// The channel block of the blocked activation layout: 16 where oneDNN runs AVX-512 kernels.
int blocked_channels() {
  const auto isa = dnnl::get_effective_cpu_isa();
  const bool avx512 = isa == dnnl::cpu_isa::avx512_core || isa == dnnl::cpu_isa::avx512_core_vnni ||
                      isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
  return avx512 ? 16 : 8;
}

bool is_reference(const std::string& impl) { return impl.rfind("ref", 0) == 0; }

std::int64_t product(const memory::dims& d, size_t from = 0) {
  std::int64_t p = 1;
  for (size_t i = from; i < d.size(); ++i) p *= d[i];
  return p;
}

}  // namespace

struct OnednnNetwork::Impl {
  Impl(const Graph& g, const NetworkOptions& o)
      : graph(g), options(o), engine(dnnl::engine::kind::cpu, 0), stream(engine) {}

  Graph graph;
  NetworkOptions options;
  int threads = omp_get_max_threads();  // the OpenMP thread count the network is built for
  void check_threads() const {
    if (omp_get_max_threads() != threads)
      throw Error(fmt::format("the network was built for {} OpenMP thread(s) and is run with {}", threads,
                              omp_get_max_threads()));
  }
  bool blocked_input() const {
    return options.blocked_input && !graph.layers.empty() && graph.layers[0].role != LayerRole::kStem;
  }
  dnnl::engine engine;
  dnnl::stream stream;
  Tag act_tag = Tag::nChw16c;

  std::vector<Value> values;
  std::vector<int> tensor_value;  // graph tensor id -> value id
  std::vector<Step> steps;

  std::unique_ptr<char, kernels::AlignedDelete> arena_storage;  // every activation value and the scratchpad
  std::vector<std::unordered_map<int, memory>> args;
  std::vector<std::vector<float*>> custom_args;  // per step: value pointers of an own kernel step
  std::vector<memory> value_memory;
  kernels::Path kernel_path = kernels::Path::kPortable;
  std::unordered_map<int, int> gate_for_layer;  // projection layer -> gate value it folds into its weights
  std::unordered_set<int> own_gates;             // gate values made by own depthwise+SE steps
  std::vector<PrimitiveInfo> info;
  std::int64_t activation_bytes = 0;
  std::int64_t weight_bytes = 0;
  int output_value = -1;

  int batch() const { return options.batch; }

  memory::desc act_md(int c, int h, int w) const {
    return memory::desc({batch(), c, h, w}, Dt::f32, act_tag);
  }

  int add_value(const memory::desc& md, int first_step) {
    Value v;
    v.md = md;
    v.first_step = first_step;
    values.push_back(v);
    return static_cast<int>(values.size()) - 1;
  }

  int next_step() const { return static_cast<int>(steps.size()); }

  void use(int value, int step) { values[value].last_step = std::max(values[value].last_step, step); }

  dnnl::primitive_attr attr() const {
    dnnl::primitive_attr a;
    if (options.user_scratchpad) a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }

  // The value of graph tensor `tensor` in layout `wanted`: itself, or a reorder into a temporary.
  int source(int tensor, const memory::desc& wanted) {
    const int v = tensor_value[tensor];
    if (values[v].md == wanted) return v;
    const dnnl::reorder::primitive_desc pd(engine, values[v].md, engine, wanted, attr());
    Step step;
    step.primitive = dnnl::reorder(pd);
    step.scratchpad = pd.scratchpad_desc();
    const int out = add_value(wanted, next_step());
    step.value_args = {{DNNL_ARG_FROM, v}, {DNNL_ARG_TO, out}};
    step.info = {fmt::format("reorder:t{}", tensor), "reorder", pd.impl_info_str(), ProfileGroup::kReorder, 0};
    use(v, next_step());
    steps.push_back(std::move(step));
    return out;
  }

  void check_impl(const Layer& l, const std::string& impl) const {
    if (options.forbid_reference && is_reference(impl)) {
      throw runtime_failure(fmt::format("layer {} runs on oneDNN's reference kernel '{}' (slow); "
                                        "try another --layout", layer_name(l), impl));
    }
  }

  // Reorders user weights (plain layout `user_md`) into the primitive's layout, once. The reorder
  // runs on one thread: building must not start OpenMP teams in the building thread, because
  // libgomp stops spinning (and every primitive then pays a futex wake-up) as soon as it manages
  // more threads than there are cores, and searches build on TBB workers.
  memory prepare_weights(const std::vector<float>& data, const memory::desc& user_md, const memory::desc& wanted) {
    memory out = reorder_constant(data, user_md, wanted);
    weight_bytes += static_cast<std::int64_t>(wanted.get_size());
    return out;
  }

  memory reorder_constant(const std::vector<float>& data, const memory::desc& user_md, const memory::desc& wanted) {
    memory user(user_md, engine, const_cast<float*>(data.data()));
    memory out(wanted, engine);
    if (user_md == wanted) {
      std::memcpy(out.get_data_handle(), data.data(), user_md.get_size());
    } else {
      const OpenmpThreads one(1);
      dnnl::reorder(user, out).execute(stream, user, out);
      stream.wait();
    }
    return out;
  }

  void append_activation(dnnl::post_ops& ops, Activation a) const {
    switch (a) {
      case Activation::kNone: break;
      case Activation::kRelu: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
      case Activation::kRelu6: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
      case Activation::kSwish: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f); break;
      case Activation::kSigmoid: ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    }
  }

  // A value read as N x C x 1 x 1: an inner product's {N, C} output is the same bytes.
  int as_4d(int value) {
    const memory::dims dims = values[value].md.dims();
    if (dims.size() != 2) return value;
    const int view = add_value(values[value].md.reshape({dims[0], dims[1], 1, 1}), values[value].first_step);
    values[view].alias_of = value;
    return view;
  }


  // ---- own kernel steps (kernels.hpp) ----

  int block() const { return act_tag == Tag::nChw16c ? 16 : 8; }

  // Whether depthwise layer `l` runs as an own kernel step; a shape the kernels do not take stays
  // with oneDNN.
  bool own_depthwise(const Layer& l) const {
    if (!options.own_depthwise || options.layout != ActivationLayout::kBlocked ||
        l.kind != LayerKind::kDepthwiseConv || l.in_c != l.out_c || l.groups != l.out_c)
      return false;
    return kernels_take(depthwise_shape(l));
  }

  // Whether the own kernels take `shape` (kernels::check) on this lowering's path.
  template <class Shape>
  bool kernels_take(const Shape& shape) const {
    try {
      kernels::check(kernel_path, shape);
      return true;
    } catch (const Error&) {
      return false;
    }
  }

  // Layers index+1..index+4 are the SE path of depthwise layer `index`: average pool and multiply
  // reading its output, reduce and expand convs between them.
  bool se_follows(int index) const {
    const auto& L = graph.layers;
    if (index + 4 >= static_cast<int>(L.size())) return false;
    const Layer &dw = L[index], &pool = L[index + 1], &reduce = L[index + 2], &expand = L[index + 3],
                &scale = L[index + 4];
    return pool.kind == LayerKind::kGlobalAvgPool && pool.input == dw.output && reduce.kind == LayerKind::kConv &&
           reduce.role == LayerRole::kSeReduce && reduce.input == pool.output && reduce.kernel == 1 &&
           expand.kind == LayerKind::kConv && expand.role == LayerRole::kSeExpand && expand.input == reduce.output &&
           expand.kernel == 1 && expand.activation == Activation::kSigmoid && expand.out_c == dw.out_c &&
           scale.kind == LayerKind::kChannelScale && scale.input == dw.output && scale.gate == expand.output &&
           graph.tensors[pool.output].last_use == index + 2 && graph.tensors[reduce.output].last_use == index + 3;
  }

  // The fields a sliding-window kernel's shape (depthwise, stem) takes from layer `l`.
  template <class Shape>
  Shape window_shape(const Layer& l) const {
    Shape shape;
    shape.batch = batch();
    shape.block = block();
    shape.in_h = l.in_h;
    shape.in_w = l.in_w;
    shape.out_h = l.out_h;
    shape.out_w = l.out_w;
    shape.kernel = l.kernel;
    shape.stride = l.stride;
    shape.pad_top = l.pad_top;
    shape.pad_left = l.pad_left;
    shape.activation = l.activation;
    return shape;
  }

  kernels::DepthwiseShape depthwise_shape(const Layer& l) const {
    auto shape = window_shape<kernels::DepthwiseShape>(l);
    shape.blocks = (l.out_c + shape.block - 1) / shape.block;
    return shape;
  }

  // Whether expansion conv `index` fuses into the own depthwise step after it (the depthwise conv
  // is its only reader).
  bool fuse_expand(int index) const {
    const auto& L = graph.layers;
    if (options.fuse_expand == FuseExpand::kOff || index + 1 >= static_cast<int>(L.size())) return false;
    const Layer &e = L[index], &dw = L[index + 1];
    if (options.fuse_expand == FuseExpand::kWide) {
      const std::int64_t expanded = std::int64_t{e.out_h} * e.out_w * e.out_c * static_cast<std::int64_t>(sizeof(float));
      if (e.out_w < kFuseExpandMinWidth) return false;
      if (dw.stride == 1 && kernel_path != kernels::Path::kAvx512 && expanded < kFuseStride1MinExpandedBytes) return false;
    }
    return e.kind == LayerKind::kConv && e.role == LayerRole::kExpand && e.kernel == 1 && e.stride == 1 &&
           e.groups == 1 && e.residual < 0 && dw.input == e.output && graph.tensors[e.output].last_use == index + 1 &&
           own_depthwise(dw) &&
           kernels::expand_fits(kernel_path, depthwise_shape(dw));
  }

  // Whether the 1x1 projection conv after depthwise layer `index` (its only reader: no SE path
  // between them) runs inside the fused step (kernels::Projection): its shortcut, if any, already
  // in the activation layout.
  bool fuse_project(int index) const {
    const auto& L = graph.layers;
    if (!options.fuse_project || index + 1 >= static_cast<int>(L.size())) return false;
    const Layer &dw = L[index], &p = L[index + 1];
    if (p.kind != LayerKind::kConv || p.role != LayerRole::kProject || p.kernel != 1 || p.stride != 1 ||
        p.groups != 1 || p.input != dw.output || graph.tensors[dw.output].last_use != index + 1 ||
        p.activation == Activation::kSigmoid || gate_for_layer.count(index + 1))
      return false;
    if (p.residual >= 0 && !(values[tensor_value[p.residual]].md == act_md(p.out_c, p.out_h, p.out_w))) return false;
    return kernels_take(pointwise_shape(p));
  }

  // A depthwise conv (with the expansion conv before it when `expand` >= 0, and the SE path after
  // it when there is one, or else the projection conv after it where fuse_project says) as one own
  // kernel step: the convolution, its activation and the per-channel sums of its output in one
  // pass, then the gate's two small FCs. Returns the number of layers lowered.
  int lower_own_depthwise(int index, int expand = -1) {
    const Layer& l = graph.layers[index];
    const bool se = se_follows(index);
    const bool project = !se && expand >= 0 && fuse_project(index);
    const kernels::DepthwiseShape shape = depthwise_shape(l);
    const int padded = shape.blocks * shape.block;
    const int taps = l.kernel * l.kernel;

    const Layer& first = graph.layers[expand >= 0 ? expand : index];
    const int src = source(first.input, act_md(first.in_c, first.in_h, first.in_w));
    const FoldedWeights folded = fold_batch_norm(l, make_layer_weights(graph, index, options.seed));
    // One buffer: depthwise weights [blocks][taps][block], bias [padded]; with the expansion, its
    // weights in panels (pack_product_weights) and bias [padded].
    const size_t expand_floats = expand >= 0 ? static_cast<size_t>(first.in_c + 1) * padded : 0;
    auto data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(padded) * (taps + 1) + expand_floats, 0.0f);
    float* weights = data->data();
    float* bias = weights + static_cast<size_t>(padded) * taps;
    float* expand_w = bias + padded;
    float* expand_b = expand_w + static_cast<size_t>(expand >= 0 ? first.in_c : 0) * padded;
    for (int c = 0; c < l.out_c; ++c) {
      bias[c] = folded.bias[c];
      for (int t = 0; t < taps; ++t)
        weights[(static_cast<size_t>(c / shape.block) * taps + t) * shape.block + c % shape.block] =
            folded.weights[static_cast<size_t>(c) * taps + t];
    }
    kernels::ExpandShape expand_shape;
    if (expand >= 0) {
      pack_product_weights(expand, padded, expand_w, expand_b);
      expand_shape.in_channels = first.in_c;
      expand_shape.in_blocks = (first.in_c + shape.block - 1) / shape.block;
      expand_shape.activation = first.activation;
    }
    weight_bytes += static_cast<std::int64_t>(data->size() * sizeof(float));

    const int step_index = next_step();
    const Layer& last = graph.layers[project ? index + 1 : index];
    Step step = own_step(src, last);
    std::int64_t macs = static_cast<std::int64_t>(batch()) * l.out_c * l.out_h * l.out_w * taps;
    if (expand >= 0) macs += static_cast<std::int64_t>(batch()) * first.out_c * first.in_c * first.out_h * first.out_w;
    const kernels::Path path = kernel_path;

    kernels::Projection projection;
    std::shared_ptr<kernels::AlignedFloats> project_data;
    const bool shortcut = project && last.residual >= 0;
    if (project) {
      // weights in panels (pack_product_weights), then bias [padded]
      const kernels::PointwiseShape p = pointwise_shape(last);
      const int out_padded = p.out_blocks * p.block;
      project_data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(last.in_c + 1) * out_padded, 0.0f);
      pack_product_weights(index + 1, out_padded, project_data->data(),
                           project_data->data() + static_cast<size_t>(last.in_c) * out_padded);
      projection.in_channels = last.in_c;
      projection.out_blocks = p.out_blocks;
      projection.out_channels = options.pixel_pairs ? last.out_c : 0;
      projection.activation = last.activation;
      projection.weights = project_data->data();
      projection.bias = project_data->data() + static_cast<size_t>(last.in_c) * out_padded;
      weight_bytes += static_cast<std::int64_t>(project_data->size() * sizeof(float));
      macs += static_cast<std::int64_t>(batch()) * last.out_c * last.in_c * last.out_h * last.out_w;
      if (shortcut) {
        const int residual = tensor_value[last.residual];
        use(residual, step_index);
        step.value_args.push_back({2, residual});
      }
    }

    kernels::SeShape se_shape;
    kernels::SeWeights se_weights;
    std::shared_ptr<kernels::AlignedFloats> se_data;
    if (se) {
      const Layer& reduce = graph.layers[index + 2];
      const Layer& se_expand = graph.layers[index + 3];
      se_shape.channels = l.out_c;
      se_shape.padded = padded;
      se_shape.squeezed = reduce.out_c;
      se_shape.inv_area = 1.0f / static_cast<float>(l.out_h * l.out_w);
      se_shape.activation = reduce.activation;
      const FoldedWeights r = fold_batch_norm(reduce, make_layer_weights(graph, index + 2, options.seed));
      const FoldedWeights e = fold_batch_norm(se_expand, make_layer_weights(graph, index + 3, options.seed));
      const int sq = reduce.out_c, ch = l.out_c;
      // reduce [sq][padded], reduce bias [sq] (with room to the alignment, so that what follows stays
      // aligned), expand transposed [sq][padded], expand bias [padded].
      const size_t bias_room = kernels::round_to_alignment(static_cast<size_t>(sq) * sizeof(float)) / sizeof(float);
      se_data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(sq) * padded * 2 + bias_room + padded, 0.0f);
      float* reduce_w = se_data->data();
      float* reduce_b = reduce_w + static_cast<size_t>(sq) * padded;
      float* expand_t = reduce_b + bias_room;
      float* expand_bias = expand_t + static_cast<size_t>(sq) * padded;
      for (int j = 0; j < sq; ++j) {
        reduce_b[j] = r.bias[j];
        for (int c = 0; c < ch; ++c) {
          reduce_w[static_cast<size_t>(j) * padded + c] = r.weights[static_cast<size_t>(j) * ch + c];
          expand_t[static_cast<size_t>(j) * padded + c] = e.weights[static_cast<size_t>(c) * sq + j];
        }
      }
      for (int c = 0; c < ch; ++c) expand_bias[c] = e.bias[c];
      weight_bytes += static_cast<std::int64_t>(se_data->size() * sizeof(float));
      se_weights = {reduce_w, reduce_b, expand_t, expand_bias};
      const int gate = add_value(act_md(ch, 1, 1), step_index);
      tensor_value[se_expand.output] = gate;
      step.value_args.push_back({2, gate});
      own_gates.insert(gate);
      macs += static_cast<std::int64_t>(batch()) * 2 * sq * ch;
    }
    const size_t scratch_floats = expand >= 0 ? kernels::expand_depthwise_scratch_floats(path, shape, se ? &se_shape : nullptr)
                                  : se        ? kernels::depthwise_se_scratch_floats(shape, se_shape)
                                              : kernels::depthwise_scratch_floats(shape);
    auto scratch = std::make_shared<kernels::AlignedFloats>(scratch_floats);
    // The step owns its weights (data, se_data); the shapes are copied into it.
    step.custom = [=, keep = std::make_tuple(data, se_data, project_data)](float* const* v) {
      const kernels::SeShape* se_p = se ? &se_shape : nullptr;
      const kernels::SeWeights* sw_p = se ? &se_weights : nullptr;
      float* gate = se ? v[2] : nullptr;
      if (expand >= 0) {
        kernels::Projection pj = projection;
        if (shortcut) pj.residual = v[2];
        kernels::expand_depthwise(path, shape, expand_shape, v[0], expand_w, expand_b, weights, bias, v[1], se_p, sw_p,
                                  gate, scratch->data(), project ? &pj : nullptr);
      } else {
        kernels::depthwise_se(path, shape, se_p, v[0], weights, bias, v[1], sw_p, gate, scratch->data());
      }
    };
    const std::string tail = se ? "+se" : project ? "+project" : "";
    const std::string name = (expand >= 0 ? layer_name(first) + "+depthwise" : layer_name(l)) + tail;
    const std::string kind = std::string("own:") + (expand >= 0 ? "expand+" : "") + "depthwise" + tail;
    step.info = {name, kind, fmt::format("own:{}", to_string(path)), group_of(l), macs};
    steps.push_back(std::move(step));
    return (expand >= 0 ? 1 : 0) + (se ? 4 : 1) + (project ? 1 : 0);
  }

  // Whether 1x1 conv `index` (stride 1, no shortcut) runs as an own pointwise step: expansion convs
  // on maps of at least kOwnPointwiseMinPixels; on smaller maps, and for the head conv, the rules
  // of small_map_pointwise (options.small_map_pointwise). own_pointwise_all: all of these, on
  // every path.
  bool own_pointwise(int index) const {
    const Layer& l = graph.layers[index];
    if (!options.own_pointwise || options.layout != ActivationLayout::kBlocked || l.kind != LayerKind::kConv ||
        (l.role != LayerRole::kExpand && l.role != LayerRole::kHead) || l.kernel != 1 || l.stride != 1 ||
        l.groups != 1 || l.residual >= 0)
      return false;
    const bool large_expand = l.role == LayerRole::kExpand && l.out_h * l.out_w >= kOwnPointwiseMinPixels;
    if (!options.own_pointwise_all && !large_expand && !(options.small_map_pointwise && small_map_pointwise(l)))
      return false;
    return kernels_take(pointwise_shape(l));
  }

  // Off the AVX-512 path: expansion convs whose weights are at most
  // kOwnPointwiseMaxSmallMapWeightBytes. On it: expansion and head convs with a swish, and on maps
  // of at most kOwnPointwiseAnyActivationMaxPixels whatever their activation (network.hpp).
  bool small_map_pointwise(const Layer& l) const {
    if (kernel_path != kernels::Path::kAvx512) {
      const auto bytes = static_cast<std::int64_t>(static_cast<std::int64_t>(l.in_c) * l.out_c * sizeof(float));
      return l.role == LayerRole::kExpand && bytes <= kOwnPointwiseMaxSmallMapWeightBytes;
    }
    return l.activation == Activation::kSwish || l.out_h * l.out_w <= kOwnPointwiseAnyActivationMaxPixels;
  }

  kernels::PointwiseShape pointwise_shape(const Layer& l) const {
    kernels::PointwiseShape shape;
    shape.batch = batch();
    shape.block = block();
    shape.in_channels = l.in_c;
    shape.in_blocks = (l.in_c + shape.block - 1) / shape.block;
    shape.out_blocks = (l.out_c + shape.block - 1) / shape.block;
    shape.pixels = l.out_h * l.out_w;
    shape.activation = l.activation;
    return shape;
  }

  // The weights of dense conv `index` (BatchNorm folded) for the own kernels' matrix products:
  // weights [in_c][kernel][kernel][padded] with the output channel innermost (a 1x1 conv's
  // transposed) cut into the kernels' panels (kernels::pack_panels), and bias [padded]; padded
  // channels zero.
  void pack_product_weights(int index, int padded, float* weights, float* bias) const {
    const Layer& l = graph.layers[index];
    const FoldedWeights folded = fold_batch_norm(l, make_layer_weights(graph, index, options.seed));
    const int taps = l.in_c * l.kernel * l.kernel;  // oihw: each output channel's taps in this order
    std::vector<float> transposed(static_cast<size_t>(taps) * padded, 0.0f);
    for (int c = 0; c < l.out_c; ++c) {
      bias[c] = folded.bias[c];
      for (int t = 0; t < taps; ++t)
        transposed[static_cast<size_t>(t) * padded + c] = folded.weights[static_cast<size_t>(c) * taps + t];
    }
    kernels::pack_panels(kernel_path, transposed.data(), taps, padded, weights);
  }

  // The start of an own kernel step reading tensor value `src` and writing layer `last`'s output,
  // in the activation layout unless `dst_md` is given.
  Step own_step(int src, const Layer& last, std::optional<memory::desc> dst_md = std::nullopt) {
    const int step_index = next_step();
    const int dst = add_value(dst_md ? *dst_md : act_md(last.out_c, last.out_h, last.out_w), step_index);
    tensor_value[last.output] = dst;
    use(src, step_index);
    Step step;
    step.value_args = {{0, src}, {1, dst}};
    return step;
  }

  // A 1x1 expansion or head conv as an own kernel step (kernels::pointwise).
  int lower_own_pointwise(int index) {
    const Layer& l = graph.layers[index];
    const kernels::PointwiseShape shape = pointwise_shape(l);
    const int padded = shape.out_blocks * shape.block;
    const int src = source(l.input, act_md(l.in_c, l.in_h, l.in_w));
    // weights in panels (pack_product_weights), then bias [padded]
    auto data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(l.in_c + 1) * padded, 0.0f);
    float* weights = data->data();
    float* bias = weights + static_cast<size_t>(l.in_c) * padded;
    pack_product_weights(index, padded, weights, bias);
    weight_bytes += static_cast<std::int64_t>(data->size() * sizeof(float));
    Step step = own_step(src, l);
    const kernels::Path path = kernel_path;
    step.custom = [=, keep = data](float* const* v) { kernels::pointwise(path, shape, v[0], weights, bias, v[1]); };
    step.info = {layer_name(l), "own:pointwise", fmt::format("own:{}", to_string(path)), group_of(l),
                 static_cast<std::int64_t>(batch()) * l.out_c * l.in_c * l.out_h * l.out_w};
    steps.push_back(std::move(step));
    return 1;
  }

  // Whether layer `index` is the stem reading the plain image and runs as an own kernel step.
  bool own_stem(int index) const {
    const Layer& l = graph.layers[index];
    if (!options.own_stem || options.layout != ActivationLayout::kBlocked || l.role != LayerRole::kStem ||
        l.kind != LayerKind::kConv || l.groups != 1 || l.residual >= 0 || l.input != 0 || blocked_input())
      return false;
    return kernels_take(stem_shape(l));
  }

  kernels::StemShape stem_shape(const Layer& l) const {
    auto shape = window_shape<kernels::StemShape>(l);
    shape.channels = l.in_c;
    shape.out_blocks = (l.out_c + shape.block - 1) / shape.block;
    return shape;
  }

  // The stem as an own kernel step (kernels::stem), reading the plain image.
  int lower_own_stem(int index) {
    const Layer& l = graph.layers[index];
    const kernels::StemShape shape = stem_shape(l);
    const int padded = shape.out_blocks * shape.block;
    const int taps = l.in_c * l.kernel * l.kernel;
    // weights in panels (pack_product_weights), then bias [padded]
    auto data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(taps + 1) * padded, 0.0f);
    float* weights = data->data();
    float* bias = weights + static_cast<size_t>(taps) * padded;
    pack_product_weights(index, padded, weights, bias);
    weight_bytes += static_cast<std::int64_t>(data->size() * sizeof(float));
    Step step = own_step(tensor_value[l.input], l);
    const kernels::Path path = kernel_path;
    step.custom = [=, keep = data](float* const* v) { kernels::stem(path, shape, v[0], weights, bias, v[1]); };
    step.info = {layer_name(l), "own:stem", fmt::format("own:{}", to_string(path)), group_of(l),
                 static_cast<std::int64_t>(batch()) * l.out_c * taps * l.out_h * l.out_w};
    steps.push_back(std::move(step));
    return 1;
  }

  // Whether SE multiply layer `index` (its gate made by an own step) can instead scale the next
  // layer's weights: batch 1, the next layer a dense conv reading only the product, whose weights
  // (out_c x in_c) are under a quarter of the activation's H x W x C: scaling them runs on fewer
  // elements but, measured on B0, about four times slower per element than the multiply.
  bool gate_into_weights(int index) const {
    const Layer& l = graph.layers[index];
    if (!options.gate_in_weights || batch() != 1 || index + 1 >= static_cast<int>(graph.layers.size())) return false;
    if (!own_gates.count(tensor_value[l.gate])) return false;
    const Layer& next = graph.layers[index + 1];
    return next.kind == LayerKind::kConv && next.groups == 1 && next.input == l.output &&
           graph.tensors[l.output].last_use == index + 1 && 4 * next.out_c < l.in_h * l.in_w;
  }

  // Before projection `index`: its weights for this inference are the stored ones with input
  // channel c scaled by gate[c]. The channel of every element of the primitive's weight layout is
  // found by reordering a tensor of channel numbers into that layout.
  memory gated_weights(int index, const memory& stored, const memory::desc& w_user, const memory::desc& wanted) {
    const Layer& l = graph.layers[index];
    const int gate = gate_for_layer.at(index);
    const int per_out = l.in_c * l.kernel * l.kernel;
    std::vector<float> channel_of(static_cast<size_t>(l.out_c) * per_out);
    for (size_t i = 0; i < channel_of.size(); ++i) channel_of[i] = static_cast<float>((i % per_out) / (l.kernel * l.kernel));
    const memory numbers = reorder_constant(channel_of, w_user, wanted);
    const auto* n = static_cast<const float*>(numbers.get_data_handle());
    const size_t elements = wanted.get_size() / sizeof(float);
    int run = 16;
    while (run > 1) {
      bool uniform = elements % run == 0;
      for (size_t i = 0; uniform && i < elements; ++i) uniform = n[i] == n[i - i % run];
      if (uniform) break;
      run /= 2;
    }
    auto channels = std::make_shared<std::vector<int>>(elements / run);
    for (size_t r = 0; r < channels->size(); ++r) (*channels)[r] = static_cast<int>(n[r * run]);
    memory live(wanted, engine);
    weight_bytes += static_cast<std::int64_t>(wanted.get_size());
    Step step;
    const kernels::Path path = kernel_path;
    const auto* from = static_cast<const float*>(stored.get_data_handle());
    auto* to = static_cast<float*>(live.get_data_handle());
    step.custom = [=, keep = stored](float* const* v) {
      kernels::scale_runs(path, from, to, channels->size(), run, channels->data(), v[0]);
    };
    step.value_args = {{0, gate}};
    use(gate, next_step());
    step.info = {layer_name(graph.layers[index - 1]), "own:gate_weights", fmt::format("own:{}", to_string(path)),
                 ProfileGroup::kSqueezeExcite, 0};
    steps.push_back(std::move(step));
    return live;
  }

  // ---- one lowering function per layer kind ----

  void lower_conv(int index) {
    const Layer& l = graph.layers[index];
    const memory::dims strides = {l.stride, l.stride};
    const memory::dims pad_l = {l.pad_top, l.pad_left};
    const memory::dims pad_r = {l.pad_bottom, l.pad_right};
    const bool grouped = l.groups > 1;
    const memory::dims w_dims = grouped ? memory::dims{l.groups, l.out_c / l.groups, l.in_c / l.groups, l.kernel, l.kernel}
                                        : memory::dims{l.out_c, l.in_c, l.kernel, l.kernel};
    const memory::desc w_any(w_dims, Dt::f32, Tag::any);
    const memory::desc bias_md({l.out_c}, Dt::f32, Tag::x);
    const memory::desc dst_md = act_md(l.out_c, l.out_h, l.out_w);

    const bool sum = l.residual >= 0 && options.fuse_residual;
    dnnl::post_ops ops;
    if (sum) ops.append_sum(1.f);
    append_activation(ops, l.activation);
    dnnl::primitive_attr a = attr();
    a.set_post_ops(ops);

    auto make_pd = [&](const memory::desc& src_md) {
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        src_md, w_any, bias_md, dst_md, strides, pad_l, pad_r);
      return dnnl::convolution_forward::primitive_desc(d, a, engine);
    };
    // Read the producer's layout directly when a fast kernel accepts it; otherwise let the
    // convolution choose and reorder into its choice.
    dnnl::convolution_forward::primitive_desc pd;
    tensor_value[l.input] = as_4d(tensor_value[l.input]);
    const memory::desc& given = values[tensor_value[l.input]].md;
    bool direct = true;
    try {
      pd = make_pd(given);
      direct = !is_reference(pd.impl_info_str());
    } catch (const dnnl::error&) {
      direct = false;
    }
    if (!direct) pd = make_pd(memory::desc({batch(), l.in_c, l.in_h, l.in_w}, Dt::f32, Tag::any));
    check_impl(l, pd.impl_info_str());

    const int src = source(l.input, pd.src_desc());
    const LayerWeights raw = make_layer_weights(graph, index, options.seed);
    const FoldedWeights folded = fold_batch_norm(l, raw);
    const memory::desc w_user(w_dims, Dt::f32, grouped ? Tag::goihw : Tag::oihw);

    memory weights = prepare_weights(folded.weights, w_user, pd.weights_desc());
    if (gate_for_layer.count(index)) weights = gated_weights(index, weights, w_user, pd.weights_desc());
    Step step;
    step.primitive = dnnl::convolution_forward(pd);
    step.scratchpad = pd.scratchpad_desc();
    step.fixed_args[DNNL_ARG_WEIGHTS] = weights;
    step.fixed_args[DNNL_ARG_BIAS] = prepare_weights(folded.bias, bias_md, pd.bias_desc());
    int dst;
    if (sum) {
      // The sum post-op accumulates into the destination: write into the shortcut's buffer,
      // which is dead after this layer.
      const int shortcut = tensor_value[l.residual];
      if (!(values[shortcut].md == pd.dst_desc()) || graph.tensors[l.residual].last_use != index) {
        throw runtime_failure(fmt::format("layer {}: the shortcut's layout differs from the output's", layer_name(l)));
      }
      dst = add_value(pd.dst_desc(), next_step());
      values[dst].alias_of = shortcut;
      use(shortcut, next_step());
    } else {
      dst = add_value(pd.dst_desc(), next_step());
    }
    tensor_value[l.output] = dst;
    use(src, next_step());
    step.value_args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
    const memory::dims wd = pd.weights_desc().dims(), dd = pd.dst_desc().dims();
    const std::int64_t per_output = grouped ? product(wd, 2) : product(wd, 1);  // (ic/g) * kh * kw
    step.info = {layer_name(l), "convolution", pd.impl_info_str(), group_of(l), product(dd) * per_output};
    steps.push_back(std::move(step));
    if (l.residual >= 0 && !sum) add_residual(l, dst);
  }

  // The shortcut as its own primitive: dst += residual, in place.
  void add_residual(const Layer& l, int dst) {
    const int shortcut = tensor_value[l.residual];
    dnnl::binary::desc d(dnnl::algorithm::binary_add, values[dst].md, values[shortcut].md, values[dst].md);
    dnnl::binary::primitive_desc pd(d, attr(), engine);
    check_impl(l, pd.impl_info_str());
    Step step;
    step.primitive = dnnl::binary(pd);
    step.scratchpad = pd.scratchpad_desc();
    const int out = add_value(values[dst].md, next_step());
    values[out].alias_of = dst;
    use(dst, next_step());
    use(shortcut, next_step());
    step.value_args = {{DNNL_ARG_SRC_0, dst}, {DNNL_ARG_SRC_1, shortcut}, {DNNL_ARG_DST, out}};
    step.info = {layer_name(l) + ".add", "binary", pd.impl_info_str(), group_of(l), 0};
    steps.push_back(std::move(step));
    tensor_value[l.output] = out;
  }

  void lower_pool(int index) {
    const Layer& l = graph.layers[index];
    const int in = tensor_value[l.input];
    const memory::desc dst_md = act_md(l.out_c, 1, 1);
    dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_avg_exclude_padding,
                                  values[in].md, dst_md, {1, 1}, {l.in_h, l.in_w}, {0, 0}, {0, 0});
    dnnl::pooling_forward::primitive_desc pd(d, attr(), engine);
    check_impl(l, pd.impl_info_str());
    Step step;
    step.primitive = dnnl::pooling_forward(pd);
    step.scratchpad = pd.scratchpad_desc();
    const int dst = add_value(pd.dst_desc(), next_step());
    tensor_value[l.output] = dst;
    use(in, next_step());
    step.value_args = {{DNNL_ARG_SRC, in}, {DNNL_ARG_DST, dst}};
    step.info = {layer_name(l), "pooling", pd.impl_info_str(), group_of(l), 0};
    steps.push_back(std::move(step));
  }

  void lower_scale(int index) {
    const Layer& l = graph.layers[index];
    const int in = tensor_value[l.input];
    if (gate_into_weights(index)) {
      gate_for_layer[index + 1] = tensor_value[l.gate];
      tensor_value[l.output] = in;
      return;
    }
    const int gate = as_4d(tensor_value[l.gate]);
    const memory::desc& src_md = values[in].md;
    dnnl::binary::desc d(dnnl::algorithm::binary_mul, src_md, values[gate].md, src_md);
    dnnl::binary::primitive_desc pd(d, attr(), engine);
    check_impl(l, pd.impl_info_str());
    Step step;
    step.primitive = dnnl::binary(pd);
    step.scratchpad = pd.scratchpad_desc();
    const int dst = add_value(src_md, next_step());
    // In place when the input dies here (it always does in MBConv: pool and multiply read it).
    if (options.inplace_scale && graph.tensors[l.input].last_use == index) values[dst].alias_of = in;
    tensor_value[l.output] = dst;
    use(in, next_step());
    use(gate, next_step());
    step.value_args = {{DNNL_ARG_SRC_0, in}, {DNNL_ARG_SRC_1, gate}, {DNNL_ARG_DST, dst}};
    step.info = {layer_name(l), "binary", pd.impl_info_str(), group_of(l), 0};
    steps.push_back(std::move(step));
  }

  void lower_fc(int index) {
    const Layer& l = graph.layers[index];
    const int in = tensor_value[l.input];
    const bool flat = values[in].md.dims().size() == 2;
    const memory::dims w_dims = flat ? memory::dims{l.out_c, l.in_c} : memory::dims{l.out_c, l.in_c, l.in_h, l.in_w};
    const memory::desc w_any(w_dims, Dt::f32, Tag::any);
    const memory::desc bias_md({l.out_c}, Dt::f32, Tag::x);
    const memory::desc dst_md({batch(), l.out_c}, Dt::f32, Tag::nc);
    dnnl::post_ops ops;
    append_activation(ops, l.activation);
    dnnl::primitive_attr a = attr();
    a.set_post_ops(ops);
    dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, values[in].md, w_any, bias_md, dst_md);
    dnnl::inner_product_forward::primitive_desc pd(d, a, engine);
    check_impl(l, pd.impl_info_str());
    const LayerWeights raw = make_layer_weights(graph, index, options.seed);
    const FoldedWeights folded = fold_batch_norm(l, raw);
    Step step;
    step.primitive = dnnl::inner_product_forward(pd);
    step.scratchpad = pd.scratchpad_desc();
    step.fixed_args[DNNL_ARG_WEIGHTS] =
        prepare_weights(folded.weights, memory::desc(w_dims, Dt::f32, flat ? Tag::oi : Tag::oihw), pd.weights_desc());
    step.fixed_args[DNNL_ARG_BIAS] = prepare_weights(folded.bias, bias_md, pd.bias_desc());
    const int dst = add_value(pd.dst_desc(), next_step());
    tensor_value[l.output] = dst;
    use(in, next_step());
    step.value_args = {{DNNL_ARG_SRC, in}, {DNNL_ARG_DST, dst}};
    step.info = {layer_name(l), "inner_product", pd.impl_info_str(), group_of(l),
                 static_cast<std::int64_t>(batch()) * product(pd.weights_desc().dims())};
    steps.push_back(std::move(step));
  }

  // Lowers layer `index` (and, for an own kernel step, the layers it takes in); returns how many.
  int lower(int index) {
    switch (graph.layers[index].kind) {
      case LayerKind::kConv:
        if (own_stem(index)) return lower_own_stem(index);
        if (fuse_expand(index)) return lower_own_depthwise(index + 1, index);
        if (fuse_head_classifier(index)) return lower_own_head_classifier(index);
        if (own_pointwise(index)) return lower_own_pointwise(index);
        if (options.se_inner_product && graph.layers[index].role == LayerRole::kSeReduce) {
          lower_fc(index);
        } else {
          lower_conv(index);
        }
        break;
      case LayerKind::kDepthwiseConv:
        if (own_depthwise(graph.layers[index])) return lower_own_depthwise(index);
        lower_conv(index);
        break;
      case LayerKind::kGlobalAvgPool:
        if (own_classifier(index)) return lower_own_classifier(index);
        lower_pool(index);
        break;
      case LayerKind::kChannelScale: lower_scale(index); break;
      case LayerKind::kFullyConnected: lower_fc(index); break;
    }
    return 1;
  }

  // Whether global average pool `index` and the fully connected layer reading its output run as
  // one own kernel step.
  bool own_classifier(int index) const {
    const auto& L = graph.layers;
    if (!options.own_classifier || options.layout != ActivationLayout::kBlocked || index + 1 >= static_cast<int>(L.size()))
      return false;
    const Layer &pool = L[index], &fc = L[index + 1];
    if (pool.kind != LayerKind::kGlobalAvgPool || fc.kind != LayerKind::kFullyConnected || fc.input != pool.output ||
        graph.tensors[pool.output].last_use != index + 1)
      return false;
    return kernels_take(classifier_shape(pool, fc));
  }

  kernels::ClassifierShape classifier_shape(const Layer& pool, const Layer& fc) const {
    kernels::ClassifierShape shape;
    shape.batch = batch();
    shape.block = block();
    shape.in_channels = fc.in_c;
    shape.in_blocks = (fc.in_c + shape.block - 1) / shape.block;
    shape.pixels = pool.in_h * pool.in_w;
    shape.outputs = fc.out_c;
    shape.activation = fc.activation;
    return shape;
  }

  // Whether head conv `index`, an own pointwise step, and the pool and classifier after it (an own
  // classifier step) run as one step (kernels::head_classifier): the head's output is read by the
  // pool alone.
  bool fuse_head_classifier(int index) const {
    const auto& L = graph.layers;
    if (!options.fuse_head_classifier || index + 2 >= static_cast<int>(L.size())) return false;
    const Layer &head = L[index], &pool = L[index + 1];
    if (head.role != LayerRole::kHead || pool.input != head.output ||
        graph.tensors[head.output].last_use != index + 1 || !own_pointwise(index) || !own_classifier(index + 1))
      return false;
    return kernels_take(head_classifier_shape(index));
  }

  kernels::HeadClassifierShape head_classifier_shape(int index) const {
    const Layer &head = graph.layers[index], &fc = graph.layers[index + 2];
    kernels::HeadClassifierShape shape;
    shape.head = pointwise_shape(head);
    shape.channels = fc.in_c;
    shape.outputs = fc.out_c;
    shape.activation = fc.activation;
    return shape;
  }

  // The start of an own kernel step reading tensor value `src` and writing classifier `fc`'s
  // output [batch][outputs].
  Step classifier_step(int src, const Layer& fc) {
    return own_step(src, fc, memory::desc({batch(), fc.out_c}, Dt::f32, Tag::nc));
  }

  // The head conv at `index`, the pool and the classifier as one own kernel step.
  int lower_own_head_classifier(int index) {
    const Layer &head = graph.layers[index], &pool = graph.layers[index + 1], &fc = graph.layers[index + 2];
    const kernels::HeadClassifierShape shape = head_classifier_shape(index);
    const int padded = shape.head.out_blocks * shape.head.block;
    const int rows = kernels::head_classifier_outputs(shape);
    // The head's weights in panels (pack_product_weights) and bias [padded]; the classifier's
    // (kernels::pack_head_classifier) and its bias [outputs], each on its own aligned buffer.
    auto head_data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(head.in_c + 1) * padded, 0.0f);
    float* head_w = head_data->data();
    float* head_b = head_w + static_cast<size_t>(head.in_c) * padded;
    pack_product_weights(index, padded, head_w, head_b);
    const FoldedWeights folded = fold_batch_norm(fc, make_layer_weights(graph, index + 2, options.seed));
    auto fc_data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(padded) * rows + fc.out_c, 0.0f);
    float* fc_w = fc_data->data();
    float* fc_b = fc_w + static_cast<size_t>(padded) * rows;
    kernels::pack_head_classifier(shape, folded.weights.data(), fc_w);
    std::copy(folded.bias.begin(), folded.bias.end(), fc_b);
    weight_bytes += static_cast<std::int64_t>((head_data->size() + fc_data->size()) * sizeof(float));

    Step step = classifier_step(source(head.input, act_md(head.in_c, head.in_h, head.in_w)), fc);
    const kernels::Path path = kernel_path;
    auto scratch = std::make_shared<kernels::AlignedFloats>(kernels::head_classifier_scratch_floats(path, shape));
    step.custom = [=, keep = std::make_tuple(head_data, fc_data, scratch)](float* const* v) {
      kernels::head_classifier(path, shape, v[0], head_w, head_b, fc_w, fc_b, v[1], scratch->data());
    };
    const std::int64_t macs = static_cast<std::int64_t>(batch()) *
                              (static_cast<std::int64_t>(head.out_c) * head.in_c * head.out_h * head.out_w +
                               static_cast<std::int64_t>(fc.out_c) * fc.in_c);
    step.info = {layer_name(head) + "+" + layer_name(pool) + "+" + layer_name(fc), "own:head+classifier",
                 fmt::format("own:{}", to_string(path)), group_of(head), macs};
    steps.push_back(std::move(step));
    return 3;
  }

  // The pool at `index` and the classifier after it as an own kernel step (kernels::classifier).
  int lower_own_classifier(int index) {
    const Layer &pool = graph.layers[index], &fc = graph.layers[index + 1];
    const kernels::ClassifierShape shape = classifier_shape(pool, fc);
    const int row = kernels::classifier_row(shape);
    const FoldedWeights folded = fold_batch_norm(fc, make_layer_weights(graph, index + 1, options.seed));
    // weights [outputs][row] (folded: [outputs][in_c]), then bias [outputs]
    auto data = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(fc.out_c) * row + fc.out_c, 0.0f);
    float* weights = data->data();
    float* bias = weights + static_cast<size_t>(fc.out_c) * row;
    for (int o = 0; o < fc.out_c; ++o) {
      bias[o] = folded.bias[o];
      std::copy_n(folded.weights.begin() + static_cast<std::ptrdiff_t>(o) * fc.in_c, fc.in_c,
                  weights + static_cast<size_t>(o) * row);
    }
    weight_bytes += static_cast<std::int64_t>(data->size() * sizeof(float));
    Step step = classifier_step(source(pool.input, act_md(pool.in_c, pool.in_h, pool.in_w)), fc);
    auto pooled = std::make_shared<kernels::AlignedFloats>(static_cast<size_t>(batch()) * shape.in_blocks * shape.block);
    const kernels::Path path = kernel_path;
    step.custom = [=, keep = std::make_pair(data, pooled)](float* const* v) {
      kernels::classifier(path, shape, v[0], weights, bias, v[1], pooled->data());
    };
    step.info = {layer_name(pool) + "+" + layer_name(fc), "own:classifier", fmt::format("own:{}", to_string(path)),
                 group_of(fc), static_cast<std::int64_t>(batch()) * fc.out_c * fc.in_c};
    steps.push_back(std::move(step));
    return 2;
  }

  // ---- storage ----

  int root(int v) const {
    while (values[v].alias_of >= 0) v = values[v].alias_of;
    return v;
  }

  // Places every value in one arena at an offset chosen by liveness ("greedy by size": largest
  // first, at the lowest offset free for its whole life); aliases share their root's storage.
  void allocate() {
    const int n = static_cast<int>(values.size());
    std::vector<int> first(n, INT_MAX), last(n, -1);
    std::vector<size_t> size(n, 0);
    for (int v = 0; v < n; ++v) {
      const int r = root(v);
      first[r] = std::min(first[r], values[v].first_step);
      last[r] = std::max({last[r], values[v].last_step, values[v].first_step});
      if (values[v].pinned) last[r] = INT_MAX;
      size[r] = std::max(size[r], kernels::round_to_alignment(values[v].md.get_size()));
    }
    std::vector<int> order;
    for (int v = 0; v < n; ++v)
      if (root(v) == v) order.push_back(v);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return size[a] > size[b]; });
    std::vector<size_t> offset(n, 0);
    std::vector<int> placed;
    size_t arena = 0;
    for (int v : order) {
      size_t at = 0;
      if (reuses_buffers(options, threads)) {
        // Occupied address ranges of values alive at the same time, by start address.
        std::vector<std::pair<size_t, size_t>> busy;
        for (int p : placed)
          if (first[p] <= last[v] && first[v] <= last[p]) busy.emplace_back(offset[p], offset[p] + size[p]);
        std::sort(busy.begin(), busy.end());
        for (const auto& [begin, end] : busy) {
          if (at + size[v] <= begin) break;
          at = std::max(at, end);
        }
      } else {
        at = arena;
      }
      offset[v] = at;
      arena = std::max(arena, at + size[v]);
      placed.push_back(v);
    }
    size_t scratch_bytes = 0;
    for (const auto& s : steps) scratch_bytes = std::max(scratch_bytes, s.scratchpad.get_size());
    scratch_bytes = kernels::round_to_alignment(scratch_bytes);
    const size_t total = std::max<size_t>(kernels::kAlignment, arena + scratch_bytes);
    void* p = kernels::aligned_bytes(total);
    if (!p) throw runtime_failure(fmt::format("cannot allocate {} bytes of activations", total));
    std::memset(p, 0, total);
    arena_storage.reset(static_cast<char*>(p));
    char* base = arena_storage.get();
    activation_bytes = static_cast<std::int64_t>(total);
    value_memory.resize(n);
    for (int v = 0; v < n; ++v) value_memory[v] = memory(values[v].md, engine, base + offset[root(v)]);
    char* scratch = scratch_bytes > 0 ? base + arena : nullptr;
    for (auto& s : steps) {
      std::vector<float*> pointers;
      if (s.custom) {
        for (const auto& [position, v] : s.value_args) pointers.push_back(static_cast<float*>(value_memory[v].get_data_handle()));
        custom_args.push_back(std::move(pointers));
        args.emplace_back();
        info.push_back(s.info);
        continue;
      }
      custom_args.emplace_back();
      std::unordered_map<int, memory> a = s.fixed_args;
      for (const auto& [arg, v] : s.value_args) a[arg] = value_memory[v];
      if (s.scratchpad.get_size() > 0) a[DNNL_ARG_SCRATCHPAD] = memory(s.scratchpad, engine, scratch);
      args.push_back(std::move(a));
      info.push_back(s.info);
    }
  }

  void run_step(size_t i) {
    if (steps[i].custom) {
      steps[i].custom(custom_args[i].data());
    } else {
      steps[i].primitive.execute(stream, args[i]);
    }
  }

  void build() {
    act_tag = options.layout == ActivationLayout::kNhwc ? Tag::nhwc : (blocked_channels() == 16 ? Tag::nChw16c : Tag::nChw8c);
    const TensorInfo& image = graph.tensors.at(0);
    tensor_value.assign(graph.tensors.size(), -1);
    tensor_value[0] =
        add_value(memory::desc({batch(), image.c, image.h, image.w}, Dt::f32, blocked_input() ? act_tag : Tag::nchw), -1);
    values[tensor_value[0]].pinned = true;
    kernel_path = own_kernel_path(options);
    for (int i = 0, lowered = 1; i < static_cast<int>(graph.layers.size()); i += lowered) {
      try {
        if (i == 0 && failpoint(fmt::format("onednn-resolution={}", image.h)))
          throw dnnl::error(dnnl_runtime_error, "injected failure (EFFSCALE_FAILPOINTS)");
        lowered = lower(i);
      } catch (const dnnl::error& e) {
        throw runtime_failure(fmt::format("oneDNN refused layer {} ({}): {}", layer_name(graph.layers[i]),
                                          dnnl_status2str(e.status), e.what()));
      }
    }
    output_value = tensor_value[graph.layers.back().output];
    values[root(output_value)].pinned = true;
    allocate();
  }
};

OnednnNetwork::OnednnNetwork(const Graph& graph, const NetworkOptions& options)
    : impl_(std::make_unique<Impl>(graph, options)) {
  if (options.batch < 1) throw Error(fmt::format("batch {} must be at least 1", options.batch));
  if (graph.layers.empty()) throw Error("the network has no layers");
  try {
    impl_->build();
  } catch (const dnnl::error& e) {
    throw runtime_failure(fmt::format("oneDNN failed while building the network ({}): {}",
                                      dnnl_status2str(e.status), e.what()));
  }
}

OnednnNetwork::~OnednnNetwork() = default;

void OnednnNetwork::set_input(const std::vector<float>& nchw) {
  const memory& in = impl_->value_memory[impl_->tensor_value[0]];
  if (impl_->blocked_input()) {
    const memory::dims d = in.get_desc().dims();
    const auto elements = static_cast<size_t>(d[0] * d[1] * d[2] * d[3]);
    if (nchw.size() != elements)
      throw Error(fmt::format("input has {} values, the network takes {}", nchw.size(), elements));
    memory src(memory::desc(d, Dt::f32, Tag::nchw), impl_->engine, const_cast<float*>(nchw.data()));
    const OpenmpThreads one(1);  // set_input is part of building (OnednnTimer::load)
    dnnl::reorder(src, in).execute(impl_->stream, src, const_cast<memory&>(in));
    impl_->stream.wait();
    return;
  }
  const size_t bytes = in.get_desc().get_size();
  if (nchw.size() * sizeof(float) != bytes)
    throw Error(fmt::format("input has {} values, the network takes {}", nchw.size(), bytes / sizeof(float)));
  std::memcpy(in.get_data_handle(), nchw.data(), bytes);
}

void OnednnNetwork::run() {
  impl_->check_threads();
  for (size_t i = 0; i < impl_->steps.size(); ++i) impl_->run_step(i);
  impl_->stream.wait();
}

void OnednnNetwork::run_primitive(size_t index) {
  if (index >= impl_->steps.size()) throw std::out_of_range("run_primitive: no such primitive");
  impl_->check_threads();
  impl_->run_step(index);
  impl_->stream.wait();
}

std::vector<float> OnednnNetwork::output() const {
  const memory& out = impl_->value_memory[impl_->output_value];
  const memory::desc md = out.get_desc();
  const memory::dims dims = md.dims();
  const memory::desc plain(dims, Dt::f32, dims.size() == 2 ? Tag::nc : Tag::nchw);
  std::vector<float> result(static_cast<size_t>(product(dims)));
  memory dst(plain, impl_->engine, result.data());
  dnnl::reorder(out, dst).execute(impl_->stream, const_cast<memory&>(out), dst);
  impl_->stream.wait();
  return result;
}

const std::vector<PrimitiveInfo>& OnednnNetwork::primitives() const { return impl_->info; }

std::int64_t OnednnNetwork::activation_bytes() const { return impl_->activation_bytes; }

std::int64_t OnednnNetwork::weight_bytes() const { return impl_->weight_bytes; }

namespace {

std::optional<kernels::Path> kernel_path_named(const std::string& name) {
  for (kernels::Path p : {kernels::Path::kAvx512, kernels::Path::kAvx2, kernels::Path::kPortable})
    if (kernels::to_string(p) == name) return p;
  return std::nullopt;
}

}  // namespace

kernels::Path own_kernel_path(const NetworkOptions& options) {
  return options.kernel_path.value_or(kernels::best_path(blocked_channels()));
}

bool reuses_buffers(const NetworkOptions& options, int threads) {
  return options.reuse_buffers && (threads <= 1 || !options.fresh_buffers_with_threads);
}

void apply_lowering_switches(const std::string& list, NetworkOptions& o) {
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = list.find(',', start);
    const std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item == "no-inplace-scale") o.inplace_scale = false;
    else if (item == "separate-residual") o.fuse_residual = false;
    else if (item == "library-scratchpad") o.user_scratchpad = false;
    else if (item == "no-buffer-reuse") o.reuse_buffers = false;
    else if (item == "reuse-buffers-with-threads") o.fresh_buffers_with_threads = false;
    else if (item == "se-inner-product") o.se_inner_product = true;
    else if (item == "no-own-depthwise") o.own_depthwise = false;
    else if (item == "no-gate-in-weights") o.gate_in_weights = false;
    else if (item == "no-fused-expand") o.fuse_expand = FuseExpand::kOff;
    else if (item == "no-own-pointwise") o.own_pointwise = false;
    else if (item == "own-pointwise-all") o.own_pointwise_all = true;
    else if (item == "no-small-map-pointwise") o.small_map_pointwise = false;
    else if (item == "no-own-stem") o.own_stem = false;
    else if (item == "no-own-classifier") o.own_classifier = false;
    else if (item == "fused-expand-all") o.fuse_expand = FuseExpand::kAll;
    else if (item == "no-fused-project") o.fuse_project = false;
    else if (item == "no-pixel-pairs") o.pixel_pairs = false;
    else if (item == "no-fused-classifier") o.fuse_head_classifier = false;
    else if (item.rfind("kernels-", 0) == 0 && kernel_path_named(item.substr(8))) {
      const kernels::Path path = *kernel_path_named(item.substr(8));
      if (!kernels::available(path))
        throw Error(fmt::format("lowering switch '{}': this CPU cannot run the {} kernels", item, to_string(path)));
      o.kernel_path = path;
    }
    else if (!item.empty() || list.empty())
      throw Error(fmt::format("unknown lowering switch '{}' (valid: no-inplace-scale, separate-residual, "
                              "library-scratchpad, no-buffer-reuse, reuse-buffers-with-threads, se-inner-product, no-own-depthwise, "
                              "no-gate-in-weights, no-fused-expand, fused-expand-all, no-own-pointwise, own-pointwise-all, "
                              "no-small-map-pointwise, no-fused-project, no-pixel-pairs, no-fused-classifier, "
                              "no-own-stem, no-own-classifier, kernels-avx512, kernels-avx2, kernels-portable)", item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

std::string lowering_switches(const NetworkOptions& o) {
  const NetworkOptions d;
  std::vector<std::string> on;
  if (o.inplace_scale != d.inplace_scale) on.push_back("no-inplace-scale");
  if (o.fuse_residual != d.fuse_residual) on.push_back("separate-residual");
  if (o.user_scratchpad != d.user_scratchpad) on.push_back("library-scratchpad");
  if (o.reuse_buffers != d.reuse_buffers) on.push_back("no-buffer-reuse");
  if (o.fresh_buffers_with_threads != d.fresh_buffers_with_threads) on.push_back("reuse-buffers-with-threads");
  if (o.se_inner_product != d.se_inner_product) on.push_back("se-inner-product");
  if (o.own_depthwise != d.own_depthwise) on.push_back("no-own-depthwise");
  if (o.gate_in_weights != d.gate_in_weights) on.push_back("no-gate-in-weights");
  if (o.own_pointwise != d.own_pointwise) on.push_back("no-own-pointwise");
  if (o.own_pointwise_all != d.own_pointwise_all) on.push_back("own-pointwise-all");
  if (o.small_map_pointwise != d.small_map_pointwise) on.push_back("no-small-map-pointwise");
  if (o.own_stem != d.own_stem) on.push_back("no-own-stem");
  if (o.own_classifier != d.own_classifier) on.push_back("no-own-classifier");
  if (o.fuse_expand != d.fuse_expand)
    on.push_back(o.fuse_expand == FuseExpand::kOff ? "no-fused-expand" : "fused-expand-all");
  if (o.fuse_project != d.fuse_project) on.push_back("no-fused-project");
  if (o.pixel_pairs != d.pixel_pairs) on.push_back("no-pixel-pairs");
  if (o.fuse_head_classifier != d.fuse_head_classifier) on.push_back("no-fused-classifier");
  if (o.kernel_path) on.push_back(fmt::format("kernels-{}", to_string(*o.kernel_path)));
  std::string text;
  for (const auto& s : on) text += (text.empty() ? "" : ",") + s;
  return text;
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  const char* runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp"
                        : v->cpu_runtime == DNNL_RUNTIME_TBB ? "tbb"
                        : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                              : "other";
  return fmt::format("{}.{}.{} (cpu: {})", v->major, v->minor, v->patch, runtime);
}

std::string onednn_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}

OpenmpThreads::OpenmpThreads(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }

OpenmpThreads::~OpenmpThreads() { omp_set_num_threads(saved_); }

void set_flush_denormals() {
  auto set = [] { _mm_setcsr(_mm_getcsr() | _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON); };
  set();
#pragma omp parallel
  set();
}

}  // namespace effscale
