#include "weights.hpp"

#include <cmath>

#include "random.hpp"

namespace effscale {

namespace {

// Second moment of act(x) for x ~ N(0, 1) (numerically integrated).
double second_moment(Activation a) {
  switch (a) {
    case Activation::kNone: return 1.0;
    case Activation::kRelu:
    case Activation::kRelu6: return 0.5;
    case Activation::kSwish: return 0.3556;
    case Activation::kSigmoid: return 0.2934;
  }
  return 1.0;
}

// Mean of act(x) for x ~ N(0, 1).
double first_moment(Activation a) {
  switch (a) {
    case Activation::kNone: return 0.0;
    case Activation::kRelu:
    case Activation::kRelu6: return 0.3989;
    case Activation::kSwish: return 0.2065;
    case Activation::kSigmoid: return 0.5;
  }
  return 0.0;
}

// Expected second moment of the elements of `tensor`.
double tensor_m2(const Graph& g, int tensor) {
  const int producer = g.tensors[tensor].producer;
  if (producer < 0) return 1.0 / 3.0;  // the image is uniform in [-1, 1)
  const Layer& p = g.layers[producer];
  switch (p.kind) {
    case LayerKind::kConv:
    case LayerKind::kDepthwiseConv:
    case LayerKind::kFullyConnected: return second_moment(p.activation);
    case LayerKind::kChannelScale: return tensor_m2(g, p.input) * second_moment(Activation::kSigmoid);
    case LayerKind::kGlobalAvgPool: {
      // Averages over many positions: the mean squared, plus a little spread.
      const int source = g.tensors[p.input].producer;
      const double mean = source >= 0 ? first_moment(g.layers[source].activation) : 0.0;
      return mean * mean + 0.05;
    }
  }
  return 1.0;
}

int blocks_in_stage(const Graph& g, int stage) {
  int blocks = 0;
  for (const Layer& l : g.layers) blocks += l.stage == stage && l.role == LayerRole::kProject;
  return blocks;
}

}  // namespace

LayerWeights make_layer_weights(const Graph& g, int index, std::uint64_t seed) {
  const Layer& l = g.layers[index];
  LayerWeights w;
  SplitMix64 rng(seed * 0x100000001B3ull + static_cast<std::uint64_t>(index) * 0x9E3779B97F4A7C15ull + 1);
  const bool has_weights = l.kind == LayerKind::kConv || l.kind == LayerKind::kDepthwiseConv ||
                           l.kind == LayerKind::kFullyConnected;
  if (!has_weights) return w;
  const std::int64_t fan_in = static_cast<std::int64_t>(l.in_c / l.groups) * l.kernel * l.kernel;
  const std::int64_t count = fan_in * l.out_c;
  const float limit = static_cast<float>(std::sqrt(3.0 / (static_cast<double>(fan_in) * tensor_m2(g, l.input))));
  w.weights.resize(static_cast<size_t>(count));
  for (auto& v : w.weights) v = rng.uniform(-limit, limit);
  if (l.bias) {
    w.bias.resize(static_cast<size_t>(l.out_c));
    for (auto& v : w.bias) v = rng.uniform(-0.1f, 0.1f);
  }
  if (l.batch_norm) {
    const float damp = l.residual >= 0 ? static_cast<float>(0.4 / std::sqrt(blocks_in_stage(g, l.stage))) : 1.0f;
    const size_t n = static_cast<size_t>(l.out_c);
    w.bn_gamma.resize(n);
    w.bn_beta.resize(n);
    w.bn_mean.resize(n);
    w.bn_var.resize(n);
    for (size_t i = 0; i < n; ++i) {
      w.bn_gamma[i] = damp * rng.uniform(0.9f, 1.1f);
      w.bn_beta[i] = rng.uniform(-0.1f, 0.1f);
      w.bn_mean[i] = rng.uniform(-0.1f, 0.1f);
      w.bn_var[i] = rng.uniform(0.9f, 1.1f);
    }
  }
  return w;
}

FoldedWeights fold_batch_norm(const Layer& l, const LayerWeights& w) {
  FoldedWeights f;
  f.weights = w.weights;
  f.bias.assign(static_cast<size_t>(l.out_c), 0.0f);
  if (!w.bias.empty()) f.bias = w.bias;
  if (!w.bn_gamma.empty()) {
    const size_t per_output = f.weights.size() / static_cast<size_t>(l.out_c);
    for (size_t o = 0; o < static_cast<size_t>(l.out_c); ++o) {
      const double g = w.bn_gamma[o] / std::sqrt(static_cast<double>(w.bn_var[o]) + w.bn_epsilon);
      for (size_t i = 0; i < per_output; ++i) {
        float& v = f.weights[o * per_output + i];
        v = static_cast<float>(v * g);
      }
      f.bias[o] = static_cast<float>((f.bias[o] - w.bn_mean[o]) * g + w.bn_beta[o]);
    }
  }
  return f;
}

std::vector<float> make_input(int batch, int channels, int height, int width, std::uint64_t seed) {
  SplitMix64 rng(seed ^ 0xD1B54A32D192ED03ull);
  std::vector<float> x(static_cast<size_t>(batch) * channels * height * width);
  for (auto& v : x) v = rng.uniform(-1.0f, 1.0f);
  return x;
}

}  // namespace effscale
