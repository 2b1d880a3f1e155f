#pragma once
// A plain reference executor for expanded graphs: direct loops, double accumulation, BatchNorm
// applied unfolded. The tests compare the oneDNN network against it, so it favours being
// obviously correct over being fast.

#include <cstdint>
#include <functional>
#include <vector>

#include "graph.hpp"
#include "weights.hpp"

namespace effscale::test {

/// Runs `graph` (batch `batch`, NCHW float input of batch*C*H*W for tensor 0) with the given
/// per-layer parameters and returns every tensor indexed by tensor id (NCHW, batch-major),
/// computed with direct loops and double accumulation. `weights` is called once for each conv,
/// depthwise conv and fully connected layer (never for pooling or scaling). Throws
/// std::invalid_argument when the input, a tensor shape or a parameter vector has the wrong size.
std::vector<std::vector<float>> reference_forward(const Graph& graph, const std::vector<float>& input,
    int batch, const std::function<LayerWeights(int layer_index)>& weights);

/// Convenience: weights = make_layer_weights(graph, i, seed).
std::vector<std::vector<float>> reference_forward(const Graph& graph, const std::vector<float>& input,
    int batch, std::uint64_t seed);

/// max_i |a_i - b_i| / max(max_i |b_i|, 1e-12): the error measure the tests use. Throws
/// std::invalid_argument when the sizes differ; NaN in either vector gives NaN.
double max_relative_error(const std::vector<float>& actual, const std::vector<float>& expected);

}  // namespace effscale::test
