#include "cost.hpp"

#include <algorithm>

#include "limits.hpp"

namespace effscale {

LayerCost& LayerCost::operator+=(const LayerCost& o) {
  params = checked_add(params, o.params, "parameters");
  macs = checked_add(macs, o.macs, "MACs");
  flops = checked_add(flops, o.flops, "FLOPs");
  activations = checked_add(activations, o.activations, "activations");
  return *this;
}

LayerCost layer_cost(const Layer& l) {
  // Every product and sum is checked: a large baseline file can ask for more than 2^63 MACs.
  LayerCost c;
  const std::int64_t out_elements = checked_mul(checked_mul(l.out_c, l.out_h, "activations"), l.out_w, "activations");
  const std::int64_t in_elements = checked_mul(checked_mul(l.in_c, l.in_h, "activations"), l.in_w, "activations");
  switch (l.kind) {
    case LayerKind::kConv:
    case LayerKind::kDepthwiseConv: {
      const std::int64_t per_output = checked_mul(static_cast<std::int64_t>(l.in_c / l.groups) * l.kernel, l.kernel, "MACs");
      c.params = checked_add(checked_mul(per_output, l.out_c, "parameters"),
                             (l.bias ? l.out_c : 0) + (l.batch_norm ? 2 * std::int64_t{l.out_c} : 0), "parameters");
      c.macs = checked_mul(per_output, out_elements, "MACs");
      c.activations = out_elements;
      break;
    }
    case LayerKind::kFullyConnected:
      c.params = checked_add(checked_mul(l.in_c, l.out_c, "parameters"), l.out_c, "parameters");
      c.macs = checked_mul(l.in_c, l.out_c, "MACs");
      c.activations = l.out_c;
      break;
    case LayerKind::kGlobalAvgPool:
      c.flops = in_elements;
      break;
    case LayerKind::kChannelScale:
      c.flops = out_elements;
      break;
  }
  c.flops = checked_add(c.flops, checked_mul(2, c.macs, "FLOPs"), "FLOPs");
  if (l.activation != Activation::kNone) c.flops = checked_add(c.flops, out_elements, "FLOPs");
  if (l.residual >= 0) c.flops = checked_add(c.flops, out_elements, "FLOPs");
  return c;
}

std::int64_t peak_activation_bytes(const Graph& g, int channel_block) {
  auto elements = [&](int t) {
    const TensorInfo& x = g.tensors[t];
    const std::int64_t c = (std::int64_t{x.c} + channel_block - 1) / channel_block * channel_block;
    return checked_mul(checked_mul(c, x.h, "activations"), x.w, "activations");
  };
  // The image is alive from the start; each output from its producer to its last use.
  std::int64_t live = g.tensors.empty() ? 0 : elements(0);
  std::int64_t peak = live;
  for (int i = 0; i < static_cast<int>(g.layers.size()); ++i) {
    const Layer& l = g.layers[i];
    live = checked_add(live, elements(l.output), "activations");
    peak = std::max(peak, live);
    const int reads[3] = {l.input, l.gate, l.residual};
    for (int k = 0; k < 3; ++k) {
      const int t = reads[k];
      const bool repeated = (k > 0 && t == reads[0]) || (k > 1 && t == reads[1]);
      if (t >= 0 && !repeated && g.tensors[t].last_use == i) live -= elements(t);
    }
    if (g.tensors[l.output].last_use < 0) live -= elements(l.output);
  }
  return checked_mul(peak, static_cast<std::int64_t>(sizeof(float)), "activation bytes");
}

std::int64_t total_activation_bytes(const Graph& g, int channel_block) {
  std::int64_t total = 0;
  for (const TensorInfo& x : g.tensors) {
    const std::int64_t c = (std::int64_t{x.c} + channel_block - 1) / channel_block * channel_block;
    total = checked_add(total, checked_mul(checked_mul(c, x.h, "activations"), x.w, "activations"), "activations");
  }
  return checked_mul(total, static_cast<std::int64_t>(sizeof(float)), "activation bytes");
}

NetworkCost network_cost(const Graph& g) {
  NetworkCost n;
  for (const Layer& l : g.layers) {
    const LayerCost c = layer_cost(l);
    n.total += c;
    if (l.kind == LayerKind::kDepthwiseConv) n.depthwise_macs = checked_add(n.depthwise_macs, c.macs, "MACs");
    if (l.kind == LayerKind::kConv && l.kernel == 1 &&
        (l.role == LayerRole::kExpand || l.role == LayerRole::kProject || l.role == LayerRole::kHead))
      n.pointwise_macs = checked_add(n.pointwise_macs, c.macs, "MACs");
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
