#include <catch2/catch.hpp>

#include "error.hpp"
#include "spec.hpp"
#include "test_util.hpp"

using namespace effscale;

// The B0 block strings of tensorflow/tpu efficientnet_builder.py (efficientnet()).
static const char* kB0Strings[] = {
    "r1_k3_s11_e1_i32_o16_se0.25", "r2_k3_s22_e6_i16_o24_se0.25", "r2_k5_s22_e6_i24_o40_se0.25",
    "r3_k3_s22_e6_i40_o80_se0.25", "r3_k5_s11_e6_i80_o112_se0.25", "r4_k5_s22_e6_i112_o192_se0.25",
    "r1_k3_s11_e6_i192_o320_se0.25"};

TEST_CASE("block strings of B0 round-trip through parse and encode", "[spec]") {
  for (const char* s : kB0Strings) {
    INFO(s);
    CHECK(encode_block_string(parse_block_string(s)) == s);
  }
  const BlockArgs a = parse_block_string("r3_k5_s22_e6_i40_o80_se0.25");
  CHECK(a.repeats == 3);
  CHECK(a.kernel == 5);
  CHECK(a.stride == 2);
  CHECK(a.expand_ratio == 6);
  CHECK(a.in_channels == 40);
  CHECK(a.out_channels == 80);
  CHECK(a.se_ratio == 0.25);
  CHECK(a.id_skip);
}

TEST_CASE("block string fields may come in any order, noskip and missing se", "[spec]") {
  const BlockArgs a = parse_block_string("i16_o24_e6_s22_k3_r2_noskip");
  CHECK(a.in_channels == 16);
  CHECK_FALSE(a.id_skip);
  CHECK_FALSE(a.has_se());
  CHECK(encode_block_string(a) == "r2_k3_s22_e6_i16_o24_noskip");
}

TEST_CASE("malformed block strings are rejected with the field and column", "[spec]") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"", "empty"},
      {"r1_k3_s11_e1_i32", "missing field o (output channels)"},
      {"r1_k3_s1_e1_i32_o16", "field 3 's1' (column 7): strides must be a pair of digits"},
      {"r1_k3_s12_e1_i32_o16", "field 3 's12' (column 7): only square strides"},
      {"r1_k4_s11_e1_i32_o16", "field 2 'k4' (column 4): kernel size 4 must be odd"},
      {"r0_k3_s11_e1_i32_o16", "field 1 'r0' (column 1): repeats 0 is out of range"},
      {"r1_k3_s11_e0.5_i32_o16", "field 4 'e0.5' (column 11): expand ratio 0.5 is out of range [1, 64]"},
      {"r1_k3_s11_e4x_i32_o16", "expand ratio '4x' is not a number"},
      // timm's syntax (timm/models/_efficientnet_builder.py _decode_block_str)
      {"er_r1_k3_s1_e4_c24", "timm block type 'er' is an edge residual"},
      {"xx_r1_k3_s1_e4_c24", "unknown timm block type"},
      {"ir_r1_k3_s1_c24", "missing field e (expand ratio)"},
      {"ir_r1_k3_s1_e1_c24", "write ds_ for a block without expansion"},
      {"ds_r1_k3_s1_e6_c24", "a ds (depthwise separable) block has no expansion"},
      {"ir_r1_k3_s22_e6_c24", "timm strides are one digit"},
      {"ir_r1_k3_s1_e6_c24_nre", "per-block activation is not supported"},
      {"ir_r1_k3.5_s1_e6_c24", "mixed kernel sizes"},
      {"ir_r1_k3_s1_e6_c24_a3", "timm option 'a' is not supported"},
      {"ir_r1_k3_s1_e6_c24_i16", "timm option 'i' is not supported"},
      {"ir_r1_k3_s1_e6", "missing field c (output channels)"},
      {"r1_k3_s11_e1_i32_o16_se1.5", "field 7 'se1.5' (column 22): SE ratio 1.5 is out of range [0, 1]"},
      {"r1_k3_s11_e1_i32_o16_sex", "field 7 'sex' (column 22): unknown field 'sex'"},
      {"r1_k3_s11_e1_i32_o16_x9", "unknown field 'x'"},
      {"r1__k3_s11_e1_i32_o16", "field 2 '' (column 4): empty field"},
      {"r1_r2_k3_s11_e1_i32_o16", "field 2 'r2' (column 4): field 'r' given twice"},
      {"r1_k3_s11_e1_i32_o16_se0.25_", "empty field"},
      {"r1_k3_s11_e1_i0_o16", "channels 0 is out of range"},
      {"r1_k3_s11_e1_i32_o9999999999", "channels 9999999999 is out of range"},
      {"r1_k3_s11_e1_i32_o99999999999999999999", "channels '99999999999999999999' is not an integer"},
      {"r_k3_s11_e1_i32_o16", "'r' has no value"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK_THROWS_WITH(parse_block_string(c.text), Catch::Contains(c.message));
  }
}

TEST_CASE("timm block strings read as the same stages as the reference's", "[spec]") {
  // timm/models/efficientnet.py _gen_efficientnet arch_def, against tensorflow/tpu
  // efficientnet_builder.py's blocks_args for the same B0 stages.
  const std::pair<const char*, const char*> pairs[] = {
      {"ds_r1_k3_s1_e1_c16_se0.25", "r1_k3_s11_e1_i0_o16_se0.25"},
      {"ir_r2_k3_s2_e6_c24_se0.25", "r2_k3_s22_e6_i0_o24_se0.25"},
      {"ir_r4_k5_s2_e6_c192_se0.25", "r4_k5_s22_e6_i0_o192_se0.25"},
      {"ds_r1_k3_s1_c16", "r1_k3_s11_e1_i0_o16"},               // timm's MobileNetV2 stage 1
      {"ir_r1_k3_s1_e4.5_c40_noskip", "r1_k3_s11_e4.5_i0_o40_noskip"},
      {"ir_r1_k3_s2_e6_c24_a1_p1", "r1_k3_s22_e6_i0_o24"},     // 1x1 expansion and projection, timm's default
  };
  for (const auto& [timm, reference] : pairs) {
    INFO(timm);
    BlockArgs a = parse_block_string(timm);
    CHECK(a.in_channels == 0);
    BlockArgs expected;
    // i0 is outside the reference's range; compare with i1 and put 0 back.
    std::string ref = reference;
    ref.replace(ref.find("_i0_"), 4, "_i1_");
    expected = parse_block_string(ref);
    expected.in_channels = 0;
    CHECK(a == expected);
    CHECK(parse_block_string(encode_timm_block_string(a)) == a);
  }
}

TEST_CASE("fractional expansion: whole products as the reference, others by make_divisible", "[spec]") {
  CHECK(parse_block_string("r1_k3_s11_e4.5_i16_o24").expand_ratio == 4.5);
  CHECK(encode_block_string(parse_block_string("r1_k3_s11_e4.5_i16_o24")) == "r1_k3_s11_e4.5_i16_o24");
  CHECK(expanded_channels(16, 6) == 96);
  CHECK(expanded_channels(16, 4.5) == 72);   // whole: 16 * 4.5
  CHECK(expanded_channels(24, 2.3) == 56);   // timm make_divisible(55.2) = int(59.2) // 8 * 8 = 56
  CHECK(expanded_channels(40, 2.5) == 100);  // whole, not a multiple of 8: kept as the product
  CHECK(expanded_channels(8, 1.1) == 8);     // make_divisible(8.8): int(12.8) // 8 * 8 = 8 >= 0.9 * 8.8
}

TEST_CASE("a baseline file in timm syntax takes each stage's input from the one before", "[spec]") {
  const NetworkSpec timm = parse_baseline_text(
      "stem 32 k3 s2\n"
      "ds_r1_k3_s1_e1_c16_se0.25\nir_r2_k3_s2_e6_c24_se0.25\nir_r2_k5_s2_e6_c40_se0.25\n"
      "ir_r3_k3_s2_e6_c80_se0.25\nir_r3_k5_s1_e6_c112_se0.25\nir_r4_k5_s2_e6_c192_se0.25\n"
      "ir_r1_k3_s1_e6_c320_se0.25\nhead 1280\n",
      "timm.txt");
  const NetworkSpec b0 = builtin_baseline("efficientnet-b0");
  REQUIRE(timm.stages.size() == b0.stages.size());
  for (size_t i = 0; i < b0.stages.size(); ++i) CHECK(timm.stages[i] == b0.stages[i]);
}

TEST_CASE("built-in baselines are well-formed chains", "[spec]") {
  for (const auto& name : builtin_baseline_names()) {
    INFO(name);
    const NetworkSpec s = builtin_baseline(name);
    CHECK_NOTHROW(validate(s));
    CHECK(s.stages.size() == 7);
  }
  const NetworkSpec b0 = builtin_baseline("efficientnet-b0");
  for (size_t i = 0; i < 7; ++i) CHECK(encode_block_string(b0.stages[i]) == kB0Strings[i]);
  CHECK(b0.activation == Activation::kSwish);
  const NetworkSpec mb = builtin_baseline("mobilenet-v2");
  CHECK(mb.activation == Activation::kRelu6);
  CHECK_FALSE(mb.stages[3].has_se());
  CHECK_THROWS_WITH(builtin_baseline("mobilenet-v3"), Catch::Contains("did you mean 'mobilenet-v2'"));
}

TEST_CASE("a baseline file round-trips through format and parse", "[spec]") {
  for (const auto& name : builtin_baseline_names()) {
    const NetworkSpec s = builtin_baseline(name);
    const NetworkSpec back = parse_baseline_text(format_baseline_text(s), "x");
    CHECK(back.name == s.name);
    CHECK(back.stages == s.stages);
    CHECK(back.stem.channels == s.stem.channels);
    CHECK(back.head_channels == s.head_channels);
    CHECK(back.head_no_shrink == s.head_no_shrink);
    CHECK(back.activation == s.activation);
    CHECK(back.classes == s.classes);
  }
}

TEST_CASE("baseline files: comments, defaults and options", "[spec]") {
  const NetworkSpec s = parse_baseline_text(
      "# tiny\n"
      "stem 16 k5 s1   # a wide stem kernel\n"
      "\n"
      "r1_k3_s11_e1_i16_o16\n"
      "r2_k5_s22_e4_i16_o24_se0.5\n"
      "head none\n"
      "classes 10\n"
      "activation relu\n",
      "tiny.txt");
  CHECK(s.name == "custom");
  CHECK(s.resolution == 224);
  CHECK(s.stem.kernel == 5);
  CHECK(s.stem.stride == 1);
  CHECK(s.head_channels == 0);
  CHECK(s.classes == 10);
  CHECK(s.activation == Activation::kRelu);
  CHECK(s.stages[1].se_ratio == 0.5);
}

TEST_CASE("malformed baseline files name the file, line and problem", "[spec]") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"stem 32\nr1_k3_s11_e1_i32_o16_se0.25x\nhead 1280\n",
       "net.txt:2: block string 'r1_k3_s11_e1_i32_o16_se0.25x': field 7 'se0.25x' (column 22)"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\n", "net.txt: missing 'head' line"},
      {"r1_k3_s11_e1_i32_o16\nhead 1280\n", "net.txt: missing 'stem' line"},
      {"stem 32\nhead 1280\n", "net.txt: no block strings"},
      {"stem 32\nr1_k3_s11_e1_i24_o16\nhead 1280\n", "stage 1 ('r1_k3_s11_e1_i24_o16') has 24 input channels but the previous stem gives 32"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\nr1_k3_s11_e1_i32_o16\nhead 1280\n", "stage 2"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\nhead 1280\nresoluton 224\n", "net.txt:4: unknown line 'resoluton 224', did you mean 'resolution'?"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\nhead 1280\nresolution 8\n", "net.txt:4: resolution 8 is out of range [16, 8192]"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\nhead 1280\nactivation tanh\n", "net.txt:4: unknown activation 'tanh'"},
      {"stem 32 k4\nr1_k3_s11_e1_i32_o16\nhead 1280\n", "net.txt:1: stem kernel 4 must be odd"},
      {"stem 32 x3\nr1_k3_s11_e1_i32_o16\nhead 1280\n", "net.txt:1: stem field 'x3'"},
      {"stem 32\nstem 32\n", "net.txt:2: 'stem' given twice"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\nhead 1280 wide\n", "unknown head option 'wide'"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\nhead -5\n", "net.txt:3: head channels -5 is out of range"},
      {"stem 32\nr1_k3_s11_e1_i32_o16 r1\nhead 1280\n", "net.txt:2: a block string has no spaces"},
      {"stem 32\nr1_k3_s11_e1_i32_o16\nhead 1280\nclasses 0\n", "classes 0 is out of range"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK_THROWS_WITH(parse_baseline_text(c.text, "net.txt"), Catch::Contains(c.message));
  }
}

TEST_CASE("load_baseline: names, files, and what is wrong with a path", "[spec]") {
  test::TempDir dir;
  CHECK(load_baseline("efficientnet-b0").name == "efficientnet-b0");
  CHECK(load_baseline("mobilenet_v2").name == "mobilenet-v2");
  const auto path = dir.write("net.txt", "name mine\nstem 32\nr1_k3_s11_e1_i32_o16\nhead 1280\n");
  CHECK(load_baseline(path).name == "mine");
  CHECK_THROWS_WITH(load_baseline("efficientnet-b1"),
                    Catch::Contains("unknown baseline 'efficientnet-b1', did you mean 'efficientnet-b0'?") &&
                        Catch::Contains("efficientnet-b0, mobilenet-v2"));
  CHECK_THROWS_WITH(load_baseline(dir.path().string()), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(load_baseline(dir.write("bin", std::string("stem\0", 5))), Catch::Contains("not a text file"));
}
