#pragma once
// Deterministic synthetic parameters for every layer of an expanded graph. The oneDNN network and
// the plain reference executor of the tests draw the same numbers from the same seed.
//
// Scaling keeps activations O(1) at any depth: conv weights are uniform with variance
// 1 / (fan_in * m2), where m2 is the expected second moment of the layer's input (after the
// producer's activation, for a unit-variance pre-activation); BatchNorm statistics are close to
// identity; the residual branch of a stage with r blocks is damped by 0.4 / sqrt(r), so the
// shortcut stream grows by about e^0.16 per stage rather than exponentially with depth.

#include <cstdint>
#include <vector>

#include "graph.hpp"

namespace effscale {

/// Parameters of one layer as a framework would store them (PyTorch layout, BN unfolded).
struct LayerWeights {
  std::vector<float> weights;  ///< conv: [out_c][in_c / groups][k][k]; FC: [out][in]; else empty
  std::vector<float> bias;     ///< [out_c] when layer.bias
  std::vector<float> bn_gamma, bn_beta, bn_mean, bn_var;  ///< [out_c] when layer.batch_norm
  float bn_epsilon = 1e-3f;    ///< TF EfficientNet's batch_norm_epsilon
};

/// The parameters of graph.layers[index] for `seed`. Same inputs, same numbers, on any machine.
LayerWeights make_layer_weights(const Graph& graph, int index, std::uint64_t seed);

/// Weights and bias with BatchNorm folded in: w' = w * g, b' = (bias - mean) * g + beta, with
/// g = gamma / sqrt(var + eps). Layout of `weights` unchanged; bias has out_c entries (zeros when
/// the layer has neither BN nor bias).
struct FoldedWeights {
  std::vector<float> weights;
  std::vector<float> bias;
};

FoldedWeights fold_batch_norm(const Layer& layer, const LayerWeights& w);

/// A deterministic input image batch in [-1, 1), NCHW.
std::vector<float> make_input(int batch, int channels, int height, int width, std::uint64_t seed);

}  // namespace effscale
