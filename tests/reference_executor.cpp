#include "reference_executor.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

namespace effscale::test {

namespace {

using Tensor = std::vector<float>;

void require(bool condition, int layer_index, const std::string& what) {
  if (!condition) {
    throw std::invalid_argument("reference_forward: layer " + std::to_string(layer_index) + ": " + what);
  }
}

/// Offset of element (n, c, h, w) in an NCHW tensor of C x H x W images.
std::size_t offset(int n, int c, int h, int w, int channels, int height, int width) {
  return ((static_cast<std::size_t>(n) * channels + c) * height + h) * width + w;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double activate(Activation activation, double x) {
  switch (activation) {
    case Activation::kNone: return x;
    case Activation::kRelu: return std::max(x, 0.0);
    case Activation::kRelu6: return std::min(std::max(x, 0.0), 6.0);
    case Activation::kSwish: return x * sigmoid(x);
    case Activation::kSigmoid: return sigmoid(x);
  }
  throw std::invalid_argument("reference_forward: unknown activation");
}

bool has_parameters(LayerKind kind) {
  return kind == LayerKind::kConv || kind == LayerKind::kDepthwiseConv || kind == LayerKind::kFullyConnected;
}

/// Bias, BatchNorm (unfolded), residual and activation, in that order, for output channel `o`.
/// `residual` is null when the layer has no shortcut.
double finish(const Layer& l, const LayerWeights& w, int o, double x, const float* residual) {
  if (l.bias) x += w.bias[o];
  if (l.batch_norm) {
    const double normalized = (x - w.bn_mean[o]) / std::sqrt(static_cast<double>(w.bn_var[o]) + w.bn_epsilon);
    x = static_cast<double>(w.bn_gamma[o]) * normalized + w.bn_beta[o];
  }
  if (residual) x += *residual;
  return activate(l.activation, x);
}

void convolution(const Layer& l, const LayerWeights& w, int batch, const Tensor& in, const Tensor* residual,
                 Tensor& out) {
  const int in_per_group = l.in_c / l.groups;
  const int out_per_group = l.out_c / l.groups;
  const int k = l.kernel;
  for (int n = 0; n < batch; ++n) {
    for (int o = 0; o < l.out_c; ++o) {
      const int group = o / out_per_group;
      for (int oh = 0; oh < l.out_h; ++oh) {
        for (int ow = 0; ow < l.out_w; ++ow) {
          double sum = 0.0;
          for (int i = 0; i < in_per_group; ++i) {
            const int c = group * in_per_group + i;
            for (int kh = 0; kh < k; ++kh) {
              const int ih = oh * l.stride - l.pad_top + kh;
              if (ih < 0 || ih >= l.in_h) continue;
              for (int kw = 0; kw < k; ++kw) {
                const int iw = ow * l.stride - l.pad_left + kw;
                if (iw < 0 || iw >= l.in_w) continue;
                const double weight = w.weights[offset(o, i, kh, kw, in_per_group, k, k)];
                sum += weight * in[offset(n, c, ih, iw, l.in_c, l.in_h, l.in_w)];
              }
            }
          }
          const std::size_t at = offset(n, o, oh, ow, l.out_c, l.out_h, l.out_w);
          out[at] = static_cast<float>(finish(l, w, o, sum, residual ? &(*residual)[at] : nullptr));
        }
      }
    }
  }
}

void fully_connected(const Layer& l, const LayerWeights& w, int batch, const Tensor& in, const Tensor* residual,
                     Tensor& out) {
  for (int n = 0; n < batch; ++n) {
    for (int o = 0; o < l.out_c; ++o) {
      double sum = 0.0;
      for (int i = 0; i < l.in_c; ++i) {
        sum += static_cast<double>(w.weights[static_cast<std::size_t>(o) * l.in_c + i]) *
               in[static_cast<std::size_t>(n) * l.in_c + i];
      }
      const std::size_t at = static_cast<std::size_t>(n) * l.out_c + o;
      out[at] = static_cast<float>(finish(l, w, o, sum, residual ? &(*residual)[at] : nullptr));
    }
  }
}

void global_avg_pool(const Layer& l, int batch, const Tensor& in, Tensor& out) {
  for (int n = 0; n < batch; ++n) {
    for (int c = 0; c < l.in_c; ++c) {
      double sum = 0.0;
      for (int h = 0; h < l.in_h; ++h) {
        for (int w = 0; w < l.in_w; ++w) sum += in[offset(n, c, h, w, l.in_c, l.in_h, l.in_w)];
      }
      out[static_cast<std::size_t>(n) * l.out_c + c] = static_cast<float>(sum / (static_cast<double>(l.in_h) * l.in_w));
    }
  }
}

void channel_scale(const Layer& l, int batch, const Tensor& in, const Tensor& gate, Tensor& out) {
  for (int n = 0; n < batch; ++n) {
    for (int c = 0; c < l.in_c; ++c) {
      const double g = gate[static_cast<std::size_t>(n) * l.in_c + c];
      for (int h = 0; h < l.in_h; ++h) {
        for (int w = 0; w < l.in_w; ++w) {
          const std::size_t at = offset(n, c, h, w, l.in_c, l.in_h, l.in_w);
          out[at] = static_cast<float>(in[at] * g);
        }
      }
    }
  }
}

bool same_shape(const TensorInfo& t, int c, int h, int w) { return t.c == c && t.h == h && t.w == w; }

/// Checks that the layer's tensors exist, are computed and match its shapes, and that `w` has the
/// sizes the layer needs.
void check_layer(const Graph& g, int index, const std::vector<bool>& ready, const LayerWeights* w) {
  const Layer& l = g.layers[index];
  const int tensor_count = static_cast<int>(g.tensors.size());
  const auto computed = [&](int t) { return t >= 0 && t < tensor_count && ready[t]; };
  require(computed(l.input), index, "input tensor " + std::to_string(l.input) + " is not computed yet");
  require(l.output >= 0 && l.output < tensor_count && !ready[l.output], index,
          "output tensor " + std::to_string(l.output) + " is invalid or already written");
  require(same_shape(g.tensors[l.input], l.in_c, l.in_h, l.in_w), index, "input tensor shape differs from the layer's");
  require(same_shape(g.tensors[l.output], l.out_c, l.out_h, l.out_w), index,
          "output tensor shape differs from the layer's");
  require(l.in_c > 0 && l.in_h > 0 && l.in_w > 0 && l.out_c > 0 && l.out_h > 0 && l.out_w > 0, index,
          "empty shape");
  if (l.residual >= 0) {
    require(has_parameters(l.kind), index, "only conv and fc layers take a residual");
    require(computed(l.residual), index, "residual tensor " + std::to_string(l.residual) + " is not computed yet");
    require(same_shape(g.tensors[l.residual], l.out_c, l.out_h, l.out_w), index,
            "residual tensor shape differs from the output's");
  }

  switch (l.kind) {
    case LayerKind::kConv:
    case LayerKind::kDepthwiseConv:
      require(l.kernel > 0 && l.stride > 0, index, "kernel and stride must be positive");
      require(l.groups > 0 && l.in_c % l.groups == 0 && l.out_c % l.groups == 0, index,
              "groups must divide in_c and out_c");
      require(l.kind != LayerKind::kDepthwiseConv || (l.groups == l.in_c && l.groups == l.out_c), index,
              "depthwise conv needs groups == in_c == out_c");
      break;
    case LayerKind::kFullyConnected:
      require(l.in_h == 1 && l.in_w == 1 && l.out_h == 1 && l.out_w == 1, index, "fc needs 1 x 1 input and output");
      break;
    case LayerKind::kGlobalAvgPool:
      require(l.out_c == l.in_c && l.out_h == 1 && l.out_w == 1, index, "avgpool output must be in_c x 1 x 1");
      break;
    case LayerKind::kChannelScale:
      require(l.out_c == l.in_c && l.out_h == l.in_h && l.out_w == l.in_w, index, "scale output must match its input");
      require(computed(l.gate), index, "gate tensor " + std::to_string(l.gate) + " is not computed yet");
      require(same_shape(g.tensors[l.gate], l.in_c, 1, 1), index, "gate tensor must be in_c x 1 x 1");
      break;
  }

  if (!has_parameters(l.kind)) {
    require(!l.bias && !l.batch_norm && l.activation == Activation::kNone, index,
            "avgpool and scale layers take no bias, BatchNorm or activation");
    return;
  }
  const std::size_t out_c = static_cast<std::size_t>(l.out_c);
  const std::size_t per_output = l.kind == LayerKind::kFullyConnected
                                     ? static_cast<std::size_t>(l.in_c)
                                     : static_cast<std::size_t>(l.in_c / l.groups) * l.kernel * l.kernel;
  require(w->weights.size() == out_c * per_output, index,
          "expected " + std::to_string(out_c * per_output) + " weights, got " + std::to_string(w->weights.size()));
  require(!l.bias || w->bias.size() == out_c, index, "expected " + std::to_string(out_c) + " bias values");
  if (l.batch_norm) {
    require(w->bn_gamma.size() == out_c && w->bn_beta.size() == out_c && w->bn_mean.size() == out_c &&
                w->bn_var.size() == out_c,
            index, "expected " + std::to_string(out_c) + " values in each BatchNorm vector");
  }
}

}  // namespace

std::vector<std::vector<float>> reference_forward(const Graph& graph, const std::vector<float>& input, int batch,
                                                  const std::function<LayerWeights(int layer_index)>& weights) {
  if (batch < 1) throw std::invalid_argument("reference_forward: batch must be at least 1");
  if (graph.tensors.empty()) throw std::invalid_argument("reference_forward: the graph has no input tensor");
  const std::size_t image = static_cast<std::size_t>(graph.tensors[0].elements());
  if (input.size() != image * batch) {
    throw std::invalid_argument("reference_forward: input has " + std::to_string(input.size()) +
                                " values, expected " + std::to_string(image * batch));
  }

  std::vector<Tensor> tensors(graph.tensors.size());
  std::vector<bool> ready(graph.tensors.size(), false);
  tensors[0] = input;
  ready[0] = true;

  for (int index = 0; index < static_cast<int>(graph.layers.size()); ++index) {
    const Layer& l = graph.layers[index];
    LayerWeights w;
    if (has_parameters(l.kind)) w = weights(index);
    check_layer(graph, index, ready, &w);

    const Tensor& in = tensors[l.input];
    const Tensor* residual = l.residual >= 0 ? &tensors[l.residual] : nullptr;
    Tensor out(static_cast<std::size_t>(graph.tensors[l.output].elements()) * batch, 0.0f);
    switch (l.kind) {
      case LayerKind::kConv:
      case LayerKind::kDepthwiseConv: convolution(l, w, batch, in, residual, out); break;
      case LayerKind::kFullyConnected: fully_connected(l, w, batch, in, residual, out); break;
      case LayerKind::kGlobalAvgPool: global_avg_pool(l, batch, in, out); break;
      case LayerKind::kChannelScale: channel_scale(l, batch, in, tensors[l.gate], out); break;
    }
    tensors[l.output] = std::move(out);
    ready[l.output] = true;
  }
  return tensors;
}

std::vector<std::vector<float>> reference_forward(const Graph& graph, const std::vector<float>& input, int batch,
                                                  std::uint64_t seed) {
  return reference_forward(graph, input, batch, [&](int index) { return make_layer_weights(graph, index, seed); });
}

double max_relative_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) {
    throw std::invalid_argument("max_relative_error: sizes differ (" + std::to_string(actual.size()) + " vs " +
                                std::to_string(expected.size()) + ")");
  }
  double max_difference = 0.0;
  double max_expected = 0.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double difference = std::abs(static_cast<double>(actual[i]) - expected[i]);
    if (std::isnan(difference)) return std::numeric_limits<double>::quiet_NaN();
    max_difference = std::max(max_difference, difference);
    max_expected = std::max(max_expected, std::abs(static_cast<double>(expected[i])));
  }
  return max_difference / std::max(max_expected, 1e-12);
}

}  // namespace effscale::test
