#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "reference_executor.hpp"
#include "scaling.hpp"

using namespace effscale;
using effscale::test::max_relative_error;
using effscale::test::reference_forward;

namespace {

/// A graph holding only the input image, tensor 0.
Graph input_only(int c, int h, int w) {
  Graph g;
  g.tensors.push_back({c, h, w, -1, -1});
  return g;
}

/// Appends `layer` reading tensor `input`; the layer's out_c/out_h/out_w give the new tensor's
/// shape. Returns the new tensor's id.
int add_layer(Graph& g, Layer layer, int input) {
  const TensorInfo in = g.tensors.at(static_cast<size_t>(input));
  layer.input = input;
  layer.in_c = in.c;
  layer.in_h = in.h;
  layer.in_w = in.w;
  g.tensors[static_cast<size_t>(input)].last_use = static_cast<int>(g.layers.size());
  g.tensors.push_back({layer.out_c, layer.out_h, layer.out_w, static_cast<int>(g.layers.size()), -1});
  layer.output = static_cast<int>(g.tensors.size()) - 1;
  g.layers.push_back(layer);
  return layer.output;
}

Layer conv(int out_c, int out_h, int out_w, int kernel, int stride) {
  Layer l;
  l.kind = LayerKind::kConv;
  l.out_c = out_c;
  l.out_h = out_h;
  l.out_w = out_w;
  l.kernel = kernel;
  l.stride = stride;
  return l;
}

/// The same parameters for every layer that asks.
std::function<LayerWeights(int)> always(const LayerWeights& w) {
  return [w](int) { return w; };
}

void check_values(const std::vector<float>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    INFO("element " << i);
    CHECK(actual[i] == Approx(expected[i]).margin(1e-6));
  }
}

}  // namespace

TEST_CASE("3x3 stride-2 conv with TF SAME padding, 5x6 -> 3x3", "[reference]") {
  // Input x[h][w] = 10h + w on 5 rows x 6 columns. SAME, stride 2, kernel 3: out = ceil(5/2) x
  // ceil(6/2) = 3 x 3; rows pad 2*2+3-5 = 2 -> top 1, bottom 1; columns pad 2*2+3-6 = 1 -> left 0,
  // right 1 (TF puts the odd pixel at the bottom/right). Output (oh, ow) reads rows 2oh-1..2oh+1
  // and columns 2ow..2ow+2.
  Graph g = input_only(1, 5, 6);
  Layer l = conv(3, 3, 3, 3, 2);
  l.pad_top = 1;
  l.pad_bottom = 1;
  l.pad_left = 0;
  l.pad_right = 1;
  const int out = add_layer(g, l, 0);

  std::vector<float> x;
  for (int h = 0; h < 5; ++h)
    for (int w = 0; w < 6; ++w) x.push_back(static_cast<float>(10 * h + w));

  // Output channel 0: all ones (a window sum). Channel 1: only the top-left tap (kh 0, kw 0).
  // Channel 2: only the bottom-right tap (kh 2, kw 2). Layout [out][in = 1][kh][kw].
  LayerWeights w;
  w.weights.assign(3 * 9, 0.0f);
  for (int i = 0; i < 9; ++i) w.weights[i] = 1.0f;
  w.weights[9 + 0] = 1.0f;
  w.weights[18 + 8] = 1.0f;

  const auto t = reference_forward(g, x, 1, always(w));
  REQUIRE(t.size() == 2);
  CHECK(t[0] == x);
  // Window sums: the window is rows R x columns C clipped to the image, so the sum of 10h + w is
  // 10*|C|*sum(R) + |R|*sum(C). Rows: oh 0 -> {0,1}, oh 1 -> {1,2,3}, oh 2 -> {3,4}; columns:
  // ow 0 -> {0,1,2}, ow 1 -> {2,3,4}, ow 2 -> {4,5}. E.g. (0,0) = 0+1+2+10+11+12 = 36.
  const std::vector<double> window_sums = {36, 48, 38, 189, 207, 147, 216, 228, 158};
  // Top-left tap reads x[2oh-1][2ow]: row -1 is padding, then rows 1 and 3, columns 0, 2, 4.
  const std::vector<double> top_left = {0, 0, 0, 10, 12, 14, 30, 32, 34};
  // Bottom-right tap reads x[2oh+1][2ow+2]: rows 1, 3, (5 = padding), columns 2, 4, (6 = padding).
  const std::vector<double> bottom_right = {12, 14, 0, 32, 34, 0, 0, 0, 0};
  std::vector<double> expected = window_sums;
  expected.insert(expected.end(), top_left.begin(), top_left.end());
  expected.insert(expected.end(), bottom_right.begin(), bottom_right.end());
  check_values(t[static_cast<size_t>(out)], expected);
}

TEST_CASE("expand's stem on a 5x5 image, then pool and classifier", "[reference]") {
  // A network with only the stem (1 -> 1 channel, kernel 3, stride 2), pooling and a 1-class FC,
  // expanded by effscale::expand: 5x5 -> 3x3 with 1 pixel of padding on every side.
  NetworkSpec spec;
  spec.resolution = 5;
  spec.image_channels = 1;
  spec.stem = {1, 3, 2};
  spec.head_channels = 0;
  spec.classes = 1;
  spec.activation = Activation::kRelu;
  const Graph g = expand(spec);
  REQUIRE(g.layers.size() == 3);
  const Layer& stem = g.layers[0];
  REQUIRE(stem.out_h == 3);
  REQUIRE(stem.out_w == 3);
  REQUIRE(stem.pad_top == 1);
  REQUIRE(stem.pad_left == 1);

  std::vector<float> x;
  for (int h = 0; h < 5; ++h)
    for (int w = 0; w < 5; ++w) x.push_back(static_cast<float>(10 * h + w));

  // Stem: all-ones kernel; BatchNorm made the identity (gamma 1, beta 0, mean 0, var 1, eps 0);
  // ReLU is the identity on these positive sums. FC: weight 0.5, bias 1.
  const auto weights = [](int index) {
    LayerWeights w;
    if (index == 0) {
      w.weights.assign(9, 1.0f);
      w.bn_gamma = {1.0f};
      w.bn_beta = {0.0f};
      w.bn_mean = {0.0f};
      w.bn_var = {1.0f};
      w.bn_epsilon = 0.0f;
    } else {
      w.weights = {0.5f};
      w.bias = {1.0f};
    }
    return w;
  };
  const auto t = reference_forward(g, x, 1, weights);
  // Rows and columns of each window: 0 -> {0,1}, 1 -> {1,2,3}, 2 -> {3,4}; the sum of 10h + w over
  // R x C is 10*|C|*sum(R) + |R|*sum(C). E.g. (0,0) = 0+1+10+11 = 22, (1,1) = 180+18 = 198.
  check_values(t[static_cast<size_t>(stem.output)], {22, 42, 34, 123, 198, 141, 142, 222, 154});
  // Pool: (22+42+34 + 123+198+141 + 142+222+154) / 9 = 1078 / 9. FC: 0.5 * 1078/9 + 1.
  check_values(t[static_cast<size_t>(g.layers[1].output)], {1078.0 / 9});
  check_values(t[static_cast<size_t>(g.layers[2].output)], {0.5 * 1078.0 / 9 + 1});
}

TEST_CASE("dense and grouped convs use the [out][in / groups][k][k] layout", "[reference]") {
  // 1x1 convs on a single pixel, so each output is a plain dot product.
  SECTION("dense: out o = sum_i w[o][i] * x[i]") {
    Graph g = input_only(2, 1, 1);
    const int out = add_layer(g, conv(2, 1, 1, 1, 1), 0);
    LayerWeights w;
    w.weights = {1, 10, 100, 1000};
    // 1*1 + 10*2 = 21; 100*1 + 1000*2 = 2100.
    check_values(reference_forward(g, {1, 2}, 1, always(w))[static_cast<size_t>(out)], {21, 2100});
  }
  SECTION("groups 2: output 0 reads inputs 0-1, output 1 reads inputs 2-3") {
    Graph g = input_only(4, 1, 1);
    Layer l = conv(2, 1, 1, 1, 1);
    l.groups = 2;
    const int out = add_layer(g, l, 0);
    LayerWeights w;
    w.weights = {1, 10, 100, 1000};
    // 1*1 + 10*2 = 21; 100*3 + 1000*4 = 4300.
    check_values(reference_forward(g, {1, 2, 3, 4}, 1, always(w))[static_cast<size_t>(out)], {21, 4300});
  }
}

TEST_CASE("depthwise conv: each channel with its own kernel", "[reference]") {
  // 2 channels of 3x3, kernel 3, stride 1, padding 1 all round.
  Graph g = input_only(2, 3, 3);
  Layer l = conv(2, 3, 3, 3, 1);
  l.kind = LayerKind::kDepthwiseConv;
  l.groups = 2;
  l.pad_top = l.pad_left = l.pad_bottom = l.pad_right = 1;
  const int out = add_layer(g, l, 0);

  // Channel 0 is all ones; channel 1 is 1..9 row by row.
  std::vector<float> x(9, 1.0f);
  for (int i = 1; i <= 9; ++i) x.push_back(static_cast<float>(i));
  // Kernel 0: all ones. Kernel 1: 2 at the top-middle tap (kh 0, kw 1), zero elsewhere.
  LayerWeights w;
  w.weights.assign(18, 0.0f);
  for (int i = 0; i < 9; ++i) w.weights[i] = 1.0f;
  w.weights[9 + 1] = 2.0f;

  const auto t = reference_forward(g, x, 1, always(w));
  // Channel 0 counts the in-bounds taps: 4 at corners, 6 on edges, 9 in the middle.
  // Channel 1 is 2 * x[h-1][w]: zero on row 0, then 2 * (1 2 3), 2 * (4 5 6).
  check_values(t[static_cast<size_t>(out)], {4, 6, 4, 6, 9, 6, 4, 6, 4,  //
                                             0, 0, 0, 2, 4, 6, 8, 10, 12});
}

TEST_CASE("conv epilogue: bias, then BatchNorm, then residual, then activation", "[reference]") {
  // 1x1 conv, 1 channel, weight 2, bias 1; BN gamma 4, beta 0.5, mean 1, var 3, eps 1, so
  // BN(v) = 4 * (v - 1) / sqrt(3 + 1) + 0.5 = 2v - 1.5; the residual is the input itself; ReLU6.
  // y = relu6(BN(2x + 1) + x) = relu6(5x + 0.5).
  // Other orders give other numbers: bias after BN gives 5x - 0.5, residual before BN 6x + 0.5,
  // activation before the residual relu6(4x + 0.5) + x, eps outside the sqrt 2.73...
  Graph g = input_only(1, 2, 2);
  Layer l = conv(1, 2, 2, 1, 1);
  l.bias = true;
  l.batch_norm = true;
  l.residual = 0;
  l.activation = Activation::kRelu6;
  const int out = add_layer(g, l, 0);

  LayerWeights w;
  w.weights = {2.0f};
  w.bias = {1.0f};
  w.bn_gamma = {4.0f};
  w.bn_beta = {0.5f};
  w.bn_mean = {1.0f};
  w.bn_var = {3.0f};
  w.bn_epsilon = 1.0f;

  // x = -1: -4.5 -> 0; x = 0.5: 3; x = 1: 5.5; x = 2: 10.5 -> 6.
  const auto t = reference_forward(g, {-1.0f, 0.5f, 1.0f, 2.0f}, 1, always(w));
  check_values(t[static_cast<size_t>(out)], {0, 3, 5.5, 6});
}

TEST_CASE("activations", "[reference]") {
  // Identity 1x1 conv, so the output is act(x). sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4,
  // sigmoid(-ln 3) = 1/4, sigmoid(0) = 1/2; swish(x) = x * sigmoid(x).
  const double ln3 = std::log(3.0);
  const double s7 = 1.0 / (1.0 + std::exp(-7.0));
  const std::vector<float> x = {static_cast<float>(-ln3), 0.0f, static_cast<float>(ln3), 7.0f};
  struct Case { Activation activation; std::vector<double> expected; };
  const Case cases[] = {
      {Activation::kNone, {-ln3, 0, ln3, 7}},
      {Activation::kRelu, {0, 0, ln3, 7}},
      {Activation::kRelu6, {0, 0, ln3, 6}},
      {Activation::kSwish, {-ln3 / 4, 0, ln3 * 3 / 4, 7 * s7}},
      {Activation::kSigmoid, {0.25, 0.5, 0.75, s7}},
  };
  LayerWeights w;
  w.weights = {1.0f};
  for (const Case& c : cases) {
    INFO(to_string(c.activation));
    Graph g = input_only(1, 1, 4);
    Layer l = conv(1, 1, 4, 1, 1);
    l.activation = c.activation;
    const int out = add_layer(g, l, 0);
    check_values(reference_forward(g, x, 1, always(w))[static_cast<size_t>(out)], c.expected);
  }
}

TEST_CASE("global average pooling, batch-major", "[reference]") {
  // Batch 2, 2 channels of 2x3; x[n][c][p] = 100n + 10c + p for position p = 0..5, whose mean
  // is 2.5, so the pooled value is 100n + 10c + 2.5.
  Graph g = input_only(2, 2, 3);
  Layer pool;
  pool.kind = LayerKind::kGlobalAvgPool;
  pool.out_c = 2;
  pool.out_h = pool.out_w = 1;
  const int out = add_layer(g, pool, 0);
  std::vector<float> x;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 6; ++p) x.push_back(static_cast<float>(100 * n + 10 * c + p));
  int calls = 0;
  const auto t = reference_forward(g, x, 2, [&](int) { ++calls; return LayerWeights{}; });
  CHECK(calls == 0);  // pooling has no parameters
  check_values(t[static_cast<size_t>(out)], {2.5, 12.5, 102.5, 112.5});
}

TEST_CASE("channel scale multiplies each channel by its gate", "[reference]") {
  // Batch 2, 2 channels of 1x2. The gate is the pooled input itself (tensor 1), then
  // scale(tensor 0, gate tensor 1) -> tensor 2.
  Graph g = input_only(2, 1, 2);
  Layer pool;
  pool.kind = LayerKind::kGlobalAvgPool;
  pool.out_c = 2;
  pool.out_h = pool.out_w = 1;
  const int gate = add_layer(g, pool, 0);
  Layer scale;
  scale.kind = LayerKind::kChannelScale;
  scale.gate = gate;
  scale.out_c = 2;
  scale.out_h = 1;
  scale.out_w = 2;
  const int out = add_layer(g, scale, 0);
  g.tensors[static_cast<size_t>(gate)].last_use = 1;

  // Image 0: channel 0 (1, 3), channel 1 (2, 6); image 1: channel 0 (-1, 1), channel 1 (4, 4).
  const std::vector<float> x = {1, 3, 2, 6, -1, 1, 4, 4};
  const auto t = reference_forward(g, x, 2, always(LayerWeights{}));
  // Gates (channel means): image 0: 2, 4; image 1: 0, 4.
  check_values(t[static_cast<size_t>(gate)], {2, 4, 0, 4});
  // (1, 3) * 2, (2, 6) * 4, (-1, 1) * 0, (4, 4) * 4.
  check_values(t[static_cast<size_t>(out)], {2, 6, 8, 24, 0, 0, 16, 16});
}

TEST_CASE("fully connected: weights [out][in] plus bias", "[reference]") {
  Graph g = input_only(3, 1, 1);
  Layer fc;
  fc.kind = LayerKind::kFullyConnected;
  fc.bias = true;
  fc.out_c = 2;
  fc.out_h = fc.out_w = 1;
  const int out = add_layer(g, fc, 0);
  LayerWeights w;
  w.weights = {1, 2, 3, -1, 0, 1};
  w.bias = {0.5f, -0.5f};
  // Image 0 = (1, 1, 1): 1+2+3+0.5 = 6.5, -1+0+1-0.5 = -0.5.
  // Image 1 = (1, 2, 3): 1+4+9+0.5 = 14.5, -1+0+3-0.5 = 1.5.
  const auto t = reference_forward(g, {1, 1, 1, 1, 2, 3}, 2, always(w));
  check_values(t[static_cast<size_t>(out)], {6.5, -0.5, 14.5, 1.5});
}

TEST_CASE("max_relative_error", "[reference]") {
  CHECK(max_relative_error({}, {}) == 0.0);
  CHECK(max_relative_error({1, -2, 3}, {1, -2, 3}) == 0.0);
  // Differences 0, 0.5, 1; largest |expected| is 4: 1 / 4.
  CHECK(max_relative_error({1, 2.5f, -3}, {1, 2, -4}) == 0.25);
  // Scaled by the expected vector, not the actual one: 1 / 1 here, 1 / 2 the other way round.
  CHECK(max_relative_error({2}, {1}) == 1.0);
  CHECK(max_relative_error({1}, {2}) == 0.5);
  // All-zero expected: divided by 1e-12.
  CHECK(max_relative_error({1e-13f}, {0}) == Approx(0.1).epsilon(1e-6));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(max_relative_error({1, nan}, {1, 2})));
  CHECK(std::isnan(max_relative_error({1, 2}, {nan, 2})));
  CHECK_THROWS_AS(max_relative_error({1, 2}, {1}), std::invalid_argument);
}

TEST_CASE("reference_forward rejects mismatched input and parameters", "[reference]") {
  Graph g = input_only(2, 1, 1);
  add_layer(g, conv(2, 1, 1, 1, 1), 0);
  LayerWeights w;
  w.weights = {1, 0, 0, 1};
  CHECK_NOTHROW(reference_forward(g, {1, 2}, 1, always(w)));
  CHECK_THROWS_AS(reference_forward(g, {1, 2, 3}, 1, always(w)), std::invalid_argument);
  CHECK_THROWS_AS(reference_forward(g, {1, 2}, 0, always(w)), std::invalid_argument);
  LayerWeights short_weights;
  short_weights.weights = {1, 0, 0};
  CHECK_THROWS_AS(reference_forward(g, {1, 2}, 1, always(short_weights)), std::invalid_argument);
  g.layers[0].batch_norm = true;  // BN without BN parameters
  CHECK_THROWS_AS(reference_forward(g, {1, 2}, 1, always(w)), std::invalid_argument);
}

TEST_CASE("a small EfficientNet: every tensor, batch images independent", "[reference]") {
  // EfficientNet-B0 at width 0.25, resolution 64. Running two images together must give exactly
  // what running each alone gives, and the seed overload uses make_layer_weights.
  const Graph g = expand(scale(builtin_baseline("efficientnet-b0"), {0.25, 1.0, 64}));
  const TensorInfo& image = g.tensors[0];
  const std::vector<float> x = make_input(2, image.c, image.h, image.w, 7);
  const auto both = reference_forward(g, x, 2, std::uint64_t{42});
  REQUIRE(both.size() == g.tensors.size());
  for (size_t i = 0; i < both.size(); ++i) {
    INFO("tensor " << i);
    REQUIRE(both[i].size() == static_cast<size_t>(g.tensors[i].elements()) * 2);
    CHECK(std::all_of(both[i].begin(), both[i].end(), [](float v) { return std::isfinite(v); }));
  }

  const size_t per_image = static_cast<size_t>(image.elements());
  const std::vector<float> second(x.begin() + static_cast<std::ptrdiff_t>(per_image), x.end());
  const auto alone = reference_forward(g, second, 1, [&](int i) { return make_layer_weights(g, i, 42); });
  for (size_t i = 0; i < both.size(); ++i) {
    const size_t n = static_cast<size_t>(g.tensors[i].elements());
    const std::vector<float> tail(both[i].begin() + static_cast<std::ptrdiff_t>(n), both[i].end());
    INFO("tensor " << i);
    CHECK(tail == alone[i]);
  }

  // The weights keep activations O(1): the logits are neither vanishing nor exploding.
  double largest = 0;
  for (float v : both.back()) largest = std::max(largest, std::abs(static_cast<double>(v)));
  CHECK(largest > 0.01);
  CHECK(largest < 100);
}
