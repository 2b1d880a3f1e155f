#pragma once
// Analytic cost of an expanded network: parameters, multiply-adds, FLOPs, activations and peak
// activation memory, all exact integers computed from the layer list (graph.hpp).

#include <cstdint>
#include <vector>

#include "graph.hpp"
#include "scaling.hpp"

namespace effscale {

/// Cost of one layer, per image.
struct LayerCost {
  std::int64_t params = 0;  ///< conv/FC weights, BatchNorm gamma and beta, biases (BN running
                            ///< statistics are not parameters)
  std::int64_t macs = 0;    ///< multiply-adds of convolutions (depthwise and SE included) and FC
  std::int64_t flops = 0;   ///< 2 * macs + elementwise ops (see kFlopsDefinition)
  std::int64_t activations = 0;  ///< output elements of conv and FC layers
  /// Sums, checked: throws Error when a total overflows 64-bit integers.
  LayerCost& operator+=(const LayerCost& o);
};

/// The FLOPs convention, for help texts and reports.
inline constexpr const char* kFlopsDefinition =
    "FLOPs = 2 x MACs + 1 per element of every activation function, residual add, SE multiply "
    "and pooled input; BatchNorm folds into the convolutions and is not counted";

/// Totals for a network, per image unless stated.
struct NetworkCost {
  LayerCost total;
  std::int64_t peak_activation_bytes = 0;  ///< float32, batch 1: the largest total size of the
                                           ///< tensors alive at once, each living from the layer
                                           ///< that writes it to the last layer that reads it
                                           ///< (input image included, weights excluded)
  std::int64_t depthwise_macs = 0;  ///< MACs of depthwise convolutions
  std::int64_t pointwise_macs = 0;  ///< MACs of 1x1 convolutions on feature maps (expand, project,
                                    ///< head; SE convs are counted as "other")
};

/// Cost of one layer.
LayerCost layer_cost(const Layer& layer);

/// Peak activation memory (float32, batch 1) by tensor liveness, with channel counts rounded up to
/// a multiple of `channel_block` (16 for the blocked layouts oneDNN pads to).
std::int64_t peak_activation_bytes(const Graph& graph, int channel_block = 1);

/// Bytes of every tensor of `graph` added up (float32, batch 1, channels padded to channel_block):
/// the activation memory of a network that reuses no buffer.
std::int64_t total_activation_bytes(const Graph& graph, int channel_block = 1);

/// Cost of the whole network.
NetworkCost network_cost(const Graph& graph);

/// Costs grouped by where the layers sit: [0] the stem, [1..stages] each stage, [stages + 1] the
/// head (head conv, pooling, classifier).
std::vector<LayerCost> stage_costs(const Graph& graph, int stages);

/// Scale `base` by `factors`, expand into `scratch` (reused) and cost it: the cheap path the
/// search calls for every candidate.
NetworkCost evaluate(const NetworkSpec& base, const ScaleFactors& factors, Graph& scratch);

}  // namespace effscale
