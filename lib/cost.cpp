#include "cost.hpp"

#include <algorithm>

namespace effscale {

LayerCost layer_cost(const Layer& l) {
  LayerCost c;
  const std::int64_t out_elements = static_cast<std::int64_t>(l.out_c) * l.out_h * l.out_w;
  const std::int64_t in_elements = static_cast<std::int64_t>(l.in_c) * l.in_h * l.in_w;
  switch (l.kind) {
    case LayerKind::kConv:
    case LayerKind::kDepthwiseConv: {
      const std::int64_t per_output = static_cast<std::int64_t>(l.in_c / l.groups) * l.kernel * l.kernel;
      c.params = per_output * l.out_c + (l.bias ? l.out_c : 0) + (l.batch_norm ? 2 * l.out_c : 0);
      c.macs = per_output * out_elements;
      c.activations = out_elements;
      break;
    }
    case LayerKind::kFullyConnected:
      c.params = static_cast<std::int64_t>(l.in_c) * l.out_c + l.out_c;
      c.macs = static_cast<std::int64_t>(l.in_c) * l.out_c;
      c.activations = l.out_c;
      break;
    case LayerKind::kGlobalAvgPool:
      c.flops = in_elements;
      break;
    case LayerKind::kChannelScale:
      c.flops = out_elements;
      break;
  }
  c.flops += 2 * c.macs;
  if (l.activation != Activation::kNone) c.flops += out_elements;
  if (l.residual >= 0) c.flops += out_elements;
  return c;
}

std::int64_t peak_activation_bytes(const Graph& g, int channel_block) {
  auto elements = [&](int t) {
    const TensorInfo& x = g.tensors[t];
    const std::int64_t c = (x.c + channel_block - 1) / channel_block * channel_block;
    return c * x.h * x.w;
  };
  // The image is alive from the start; each output from its producer to its last use.
  std::int64_t live = g.tensors.empty() ? 0 : elements(0);
  std::int64_t peak = live;
  for (int i = 0; i < static_cast<int>(g.layers.size()); ++i) {
    const Layer& l = g.layers[i];
    live += elements(l.output);
    peak = std::max(peak, live);
    const int reads[3] = {l.input, l.gate, l.residual};
    for (int k = 0; k < 3; ++k) {
      const int t = reads[k];
      const bool repeated = (k > 0 && t == reads[0]) || (k > 1 && t == reads[1]);
      if (t >= 0 && !repeated && g.tensors[t].last_use == i) live -= elements(t);
    }
    if (g.tensors[l.output].last_use < 0) live -= elements(l.output);
  }
  return peak * static_cast<std::int64_t>(sizeof(float));
}

NetworkCost network_cost(const Graph& g) {
  NetworkCost n;
  for (const Layer& l : g.layers) {
    const LayerCost c = layer_cost(l);
    n.total += c;
    if (l.kind == LayerKind::kDepthwiseConv) n.depthwise_macs += c.macs;
    if (l.kind == LayerKind::kConv && l.kernel == 1 &&
        (l.role == LayerRole::kExpand || l.role == LayerRole::kProject || l.role == LayerRole::kHead))
      n.pointwise_macs += c.macs;
  }
  n.peak_activation_bytes = peak_activation_bytes(g, 1);
  return n;
}

std::vector<LayerCost> stage_costs(const Graph& g, int stages) {
  std::vector<LayerCost> groups(static_cast<size_t>(stages) + 2);
  bool past_stages = false;
  for (const Layer& l : g.layers) {
    if (l.stage >= 0) {
      groups[static_cast<size_t>(l.stage) + 1] += layer_cost(l);
      past_stages = true;
    } else {
      groups[past_stages ? static_cast<size_t>(stages) + 1 : 0] += layer_cost(l);
    }
  }
  return groups;
}

NetworkCost evaluate(const NetworkSpec& base, const ScaleFactors& factors, Graph& scratch) {
  expand(scale(base, factors), scratch);
  return network_cost(scratch);
}

}  // namespace effscale
