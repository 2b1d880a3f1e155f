#include <catch2/catch.hpp>

#include <cmath>

#include "error.hpp"
#include "scaling.hpp"

using namespace effscale;

TEST_CASE("round_filters: multiple of 8, at least 8, never below 90% of c*w", "[scaling]") {
  for (int c = 1; c <= 2048; c += (c < 64 ? 1 : 7)) {
    for (double w = 0.05; w <= 6.0; w += 0.0173) {
      const int n = round_filters(c, w);
      INFO("c=" << c << " w=" << w << " n=" << n);
      REQUIRE(n % 8 == 0);
      REQUIRE(n >= 8);
      REQUIRE(n >= 0.9 * c * w);
      REQUIRE(n <= c * w + 8);  // rounding moves at most one step of 8 up
    }
  }
}

TEST_CASE("round_filters matches the reference on known values", "[scaling]") {
  // Hand-applied rule of tensorflow/tpu efficientnet_builder.round_filters.
  CHECK(round_filters(32, 1.0) == 32);
  CHECK(round_filters(1280, 1.1) == 1408);  // B2 head
  CHECK(round_filters(40, 1.1) == 48);      // B2 stage 3
  CHECK(round_filters(32, 0.35) == 16);     // 11.2 -> 8 is below 90%, so 16
  CHECK(round_filters(16, 0.35) == 8);      // 5.6 -> max(8, 8)
  CHECK(round_filters(12, 1.0) == 16);      // rounds even at width 1, as the reference does
  CHECK(round_filters(1280, 4.3) == 5504);  // L2 head
}

TEST_CASE("round_repeats is ceil of the double product, as in Python", "[scaling]") {
  CHECK(round_repeats(2, 1.1) == 3);
  CHECK(round_repeats(4, 3.1) == 13);
  CHECK(round_repeats(1, 1.0) == 1);
  CHECK(round_repeats(10, 1.1) == 11);
  // Python: 1.12 * 25 == 28.000000000000004, so the reference's ceil gives 29, not 28.
  CHECK(round_repeats(25, 1.12) == 29);
}

TEST_CASE("published presets: the reference efficientnet_params table", "[scaling]") {
  // tensorflow/tpu efficientnet_builder.py efficientnet_params().
  struct Row { const char* name; double w; double d; int r; };
  const Row rows[] = {{"b0", 1.0, 1.0, 224}, {"b1", 1.0, 1.1, 240}, {"b2", 1.1, 1.2, 260},
                      {"b3", 1.2, 1.4, 300}, {"b4", 1.4, 1.8, 380}, {"b5", 1.6, 2.2, 456},
                      {"b6", 1.8, 2.6, 528}, {"b7", 2.0, 3.1, 600}, {"b8", 2.2, 3.6, 672},
                      {"l2", 4.3, 5.3, 800}};
  for (const auto& row : rows) {
    auto p = find_preset(row.name);
    REQUIRE(p);
    CHECK(p->factors.width == row.w);
    CHECK(p->factors.depth == row.d);
    CHECK(p->factors.resolution == row.r);
  }
  CHECK(find_preset("efficientnet-b4")->factors.resolution == 380);
  CHECK_FALSE(find_preset("b9"));
}

TEST_CASE("B7 architecture matches the reference", "[scaling]") {
  // EfficientNet-B7 of tensorflow/tpu and torchvision: stem 64, head 2560, stages (out x repeats).
  const NetworkSpec b7 = scale(builtin_baseline("efficientnet-b0"), find_preset("b7")->factors);
  CHECK(b7.stem.channels == 64);
  CHECK(b7.head_channels == 2560);
  const int out[] = {32, 48, 80, 160, 224, 384, 640};
  const int repeats[] = {4, 7, 7, 10, 10, 13, 4};
  for (int i = 0; i < 7; ++i) {
    INFO("stage " << i + 1);
    CHECK(b7.stages[i].out_channels == out[i]);
    CHECK(b7.stages[i].repeats == repeats[i]);
  }
  CHECK(b7.resolution == 600);
}

TEST_CASE("B2 channels match the reference", "[scaling]") {
  // torchvision efficientnet_b2 / tensorflow/tpu: 32, 16, 24, 48, 88, 120, 208, 352, 1408.
  const NetworkSpec b2 = scale(builtin_baseline("efficientnet-b0"), find_preset("b2")->factors);
  CHECK(b2.stem.channels == 32);
  const int out[] = {16, 24, 48, 88, 120, 208, 352};
  for (int i = 0; i < 7; ++i) CHECK(b2.stages[i].out_channels == out[i]);
  CHECK(b2.head_channels == 1408);
}

TEST_CASE("MobileNetV2 head keeps 1280 channels below width 1", "[scaling]") {
  // torchvision mobilenetv2.py: last_channel = _make_divisible(1280 * max(1.0, width_mult)).
  const NetworkSpec base = builtin_baseline("mobilenet-v2");
  CHECK(scale(base, {0.5, 1.0, 224}).head_channels == 1280);
  CHECK(scale(base, {1.4, 1.0, 224}).head_channels == 1792);
  CHECK(scale(builtin_baseline("efficientnet-b0"), {0.5, 1.0, 224}).head_channels == 640);
}

TEST_CASE("formula models: d = alpha^phi, w = beta^phi, r = round(224 gamma^phi)", "[scaling]") {
  const Coefficients paper;  // Tan & Le 2019, Section 3.3: alpha 1.2, beta 1.1, gamma 1.15
  ScaleFactors f = compound_factors(1, paper, 224);
  CHECK(f.depth == 1.2);
  CHECK(f.width == 1.1);
  CHECK(f.resolution == 258);  // 257.6
  f = compound_factors(2, paper, 224);
  CHECK(f.depth == Approx(1.44));
  CHECK(f.width == Approx(1.21));
  CHECK(f.resolution == 296);  // 296.24
  f = compound_factors(-1, paper, 224);
  CHECK(f.depth == Approx(1 / 1.2));
  CHECK(f.resolution == 195);  // 194.78
  // Python's round() goes to even on exact halves.
  CHECK(compound_factors(1, {1, 1, 2.5}, 1).resolution == 2);
  CHECK(compound_factors(1, {1, 1, 3.5}, 1).resolution == 4);
}

TEST_CASE("scale factors out of range are refused with the range", "[scaling]") {
  const NetworkSpec base = builtin_baseline("efficientnet-b0");
  CHECK_THROWS_WITH(scale(base, {0.0, 1.0, 224}), "width multiplier 0 is out of range (0, 16]");
  CHECK_THROWS_WITH(scale(base, {1.0, -1.0, 224}), "depth multiplier -1 is out of range (0, 256]");
  CHECK_THROWS_WITH(scale(base, {1.0, 1.0, 15}), "resolution 15 is out of range [16, 8192]");
  CHECK_THROWS_WITH(scale(base, {NAN, 1.0, 224}), Catch::Contains("width multiplier nan"));
}
