#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <thread>

#include "bench.hpp"
#include "cost.hpp"
#include "error.hpp"
#include "measure_onednn.hpp"
#include "onednn/network.hpp"
#include "reference_executor.hpp"
#include "weights.hpp"

using namespace effscale;

namespace {

// The first `layers` layers of `g`, with last uses recomputed (the last output becomes the result).
Graph truncate(const Graph& g, size_t layers) {
  Graph t;
  t.layers.assign(g.layers.begin(), g.layers.begin() + static_cast<long>(layers));
  t.tensors.assign(g.tensors.begin(), g.tensors.begin() + static_cast<long>(layers) + 1);
  for (auto& x : t.tensors) x.last_use = -1;
  for (int i = 0; i < static_cast<int>(t.layers.size()); ++i)
    for (int r : {t.layers[i].input, t.layers[i].gate, t.layers[i].residual})
      if (r >= 0) t.tensors[r].last_use = i;
  return t;
}

// Runs `g` through oneDNN and through the reference executor; returns the max relative error of
// the last layer's output.
double compare_with_reference(const Graph& g, int batch, NetworkOptions o) {
  omp_set_num_threads(2);
  o.batch = batch;
  OnednnNetwork net(g, o);
  const std::uint64_t seed = o.seed;
  const TensorInfo& image = g.tensors[0];
  const auto input = make_input(batch, image.c, image.h, image.w, seed);
  net.set_input(input);
  net.run();
  const auto reference = test::reference_forward(g, input, batch, seed);
  return test::max_relative_error(net.output(), reference[g.layers.back().output]);
}

double compare_with_reference(const Graph& g, int batch, ActivationLayout layout, std::uint64_t seed = 7) {
  NetworkOptions o;
  o.seed = seed;
  o.layout = layout;
  return compare_with_reference(g, batch, o);
}

NetworkSpec every_block_kind() {
  // Expand ratio 1 and 6, kernels 3 and 5, stride 2 on odd sizes, SE and no SE, shortcuts,
  // noskip, ReLU, no head conv.
  NetworkSpec s;
  s.name = "kinds";
  s.resolution = 37;
  s.stem = {16, 3, 2};
  s.stages = {parse_block_string("r2_k3_s11_e1_i16_o16_se0.25"), parse_block_string("r2_k5_s22_e6_i16_o24"),
              parse_block_string("r2_k3_s22_e6_i24_o40_se0.5_noskip"), parse_block_string("r2_k5_s11_e4_i40_o40_se0.25")};
  s.head_channels = 0;
  s.classes = 10;
  s.activation = Activation::kRelu;
  return s;
}

}  // namespace

TEST_CASE("oneDNN graph matches the reference executor: B0 at reduced width", "[onednn]") {
  // Reference: tests/reference_executor.cpp (direct loops, NCHW, double accumulation, TF SAME).
  const NetworkSpec base = builtin_baseline("efficientnet-b0");
  for (int resolution : {33, 47, 64}) {
    for (ActivationLayout layout : {ActivationLayout::kBlocked, ActivationLayout::kNhwc}) {
      INFO("resolution " << resolution << " layout " << to_string(layout));
      const Graph g = expand(scale(base, {0.25, 1.0, resolution}));
      CHECK(compare_with_reference(g, 1, layout) <= 1e-4);
      // The feature map before pooling, where border and stride errors cannot average out.
      CHECK(compare_with_reference(truncate(g, g.layers.size() - 2), 1, layout) <= 1e-4);
    }
  }
}

TEST_CASE("oneDNN graph matches the reference executor: MobileNetV2 and every block kind", "[onednn]") {
  const Graph mb = expand(scale(builtin_baseline("mobilenet-v2"), {0.35, 1.0, 45}));
  CHECK(compare_with_reference(mb, 1, ActivationLayout::kBlocked) <= 1e-4);
  CHECK(compare_with_reference(mb, 2, ActivationLayout::kNhwc) <= 1e-4);
  const Graph kinds = expand(every_block_kind());
  for (ActivationLayout layout : {ActivationLayout::kBlocked, ActivationLayout::kNhwc}) {
    INFO(to_string(layout));
    CHECK(compare_with_reference(kinds, 2, layout) <= 1e-4);
    for (size_t n : {size_t{1}, size_t{4}, size_t{9}, kinds.layers.size() - 2}) {
      INFO("first " << n << " layers");
      CHECK(compare_with_reference(truncate(kinds, n), 1, layout) <= 1e-4);
    }
  }
}

TEST_CASE("every lowering switch still matches the reference executor", "[onednn]") {
  const Graph b0 = expand(scale(builtin_baseline("efficientnet-b0"), {0.25, 1.0, 41}));
  const Graph kinds = expand(every_block_kind());
  for (const char* switches : {"no-inplace-scale", "separate-residual", "library-scratchpad", "no-buffer-reuse",
                               "se-inner-product", "no-inplace-scale,separate-residual,se-inner-product",
                               "no-own-depthwise", "no-gate-in-weights", "no-own-depthwise,se-inner-product",
                               "no-fused-expand", "fused-expand-all", "fused-expand-all,no-gate-in-weights",
                               "no-own-pointwise", "own-pointwise-all", "no-small-map-pointwise", "no-fused-expand,own-pointwise-all",
                               "no-fused-project", "fused-expand-all,no-fused-project", "no-pixel-pairs", "no-fused-classifier",
                               "no-own-stem", "no-own-classifier"}) {
    for (ActivationLayout layout : {ActivationLayout::kBlocked, ActivationLayout::kNhwc}) {
      INFO(switches << " " << to_string(layout));
      NetworkOptions o;
      o.seed = 11;
      o.layout = layout;
      apply_lowering_switches(switches, o);
      CHECK(compare_with_reference(b0, 1, o) <= 1e-4);
      CHECK(compare_with_reference(kinds, 2, o) <= 1e-4);
    }
  }
  NetworkOptions o;
  CHECK_THROWS_WITH(apply_lowering_switches("fast-mode", o), Catch::Contains("unknown lowering switch 'fast-mode'"));
  CHECK_THROWS_WITH(apply_lowering_switches("kernels-sse", o), Catch::Contains("unknown lowering switch 'kernels-sse'"));
  apply_lowering_switches("no-own-depthwise,no-gate-in-weights,kernels-portable", o);
  CHECK(lowering_switches(o) == "no-own-depthwise,no-gate-in-weights,kernels-portable");
}

TEST_CASE("every own kernel path matches the reference executor: both baselines, every block kind, batch 1 and 2", "[onednn][kernels]") {
  // Reference: tests/reference_executor.cpp. The gate goes into the projection's weights only at
  // batch 1 (B0's early blocks); batch 2 and no-gate-in-weights take the multiply.
  const Graph b0 = expand(scale(builtin_baseline("efficientnet-b0"), {0.25, 1.0, 57}));
  const Graph mb = expand(scale(builtin_baseline("mobilenet-v2"), {0.35, 1.0, 45}));
  const Graph kinds = expand(every_block_kind());
  for (kernels::Path path : kernels::available_paths()) {
    for (const char* extra : {"", ",no-gate-in-weights", ",fused-expand-all", ",no-fused-expand,own-pointwise-all"}) {
      NetworkOptions o;
      o.seed = 5;
      apply_lowering_switches(fmt::format("kernels-{}{}", kernels::to_string(path), extra), o);
      INFO(lowering_switches(o));
      CHECK(compare_with_reference(b0, 1, o) <= 1e-4);
      CHECK(compare_with_reference(truncate(b0, b0.layers.size() - 2), 1, o) <= 1e-4);
      CHECK(compare_with_reference(b0, 2, o) <= 1e-4);
      CHECK(compare_with_reference(mb, 1, o) <= 1e-4);
      CHECK(compare_with_reference(kinds, 1, o) <= 1e-4);
      CHECK(compare_with_reference(kinds, 2, o) <= 1e-4);
    }
  }
}

TEST_CASE("own kernel steps replace B0's depthwise and SE primitives", "[onednn][kernels]") {
  omp_set_num_threads(2);
  const Graph g = expand(builtin_baseline("efficientnet-b0"));
  NetworkOptions o;
  OnednnNetwork own(g, o);
  int fused = 0, with_expand = 0, pointwise = 0, gated = 0, multiplies = 0;
  for (const auto& p : own.primitives()) {
    pointwise += p.primitive == "own:pointwise";
    fused += p.primitive == "own:depthwise+se";
    with_expand += p.primitive == "own:expand+depthwise+se";
    gated += p.primitive == "own:gate_weights";
    multiplies += p.primitive == "binary";
    if (p.primitive.rfind("own:", 0) == 0) CHECK(p.impl == fmt::format("own:{}", kernels::to_string(kernels::best_path())));
  }
  // 16 blocks, each with SE: depthwise + pool + reduce + expand become one step; the multiply
  // becomes a weight scaling where the projection's weights are under a quarter of the activation.
  // The expansion conv joins the step before the depthwise convs on maps at least 28 wide: stage 2
  // and 3's blocks (112 and 56 wide, 56 and 28) and stage 4's first (28), not stage 4's others (14)
  // nor stage 6's first (14); off the AVX-512 path, stage 2 and 3's second blocks' expanded
  // tensors (1.8 and 0.75 MB, before stride-1 depthwise convs) are under
  // kFuseStride1MinExpandedBytes: only the strided blocks fuse, and those two expansions are own
  // pointwise steps (maps of at least kOwnPointwiseMinPixels).
  const bool avx512 = kernels::best_path() == kernels::Path::kAvx512;
  const int expand_fused = avx512 ? 5 : 3;
  CHECK(fused + with_expand == 16);
  CHECK(with_expand == expand_fused);
  CHECK(gated + multiplies == 16);
  CHECK(gated >= 3);
  // The head's pool and the classifier: one own step. On the AVX-512 path the head conv is an own
  // pointwise step (network.hpp), and joins them: head, pool and classifier in one step.
  const int head_fused = avx512 ? 1 : 0;
  auto count = [&](const char* primitive) {
    return std::count_if(own.primitives().begin(), own.primitives().end(),
                         [&](const PrimitiveInfo& p) { return p.primitive == primitive; });
  };
  CHECK(count("own:classifier") == 1 - head_fused);
  CHECK(count("own:head+classifier") == head_fused);
  CHECK(own.primitives().size() == g.layers.size() - 3 * 16 - expand_fused - 1 - head_fused);
  // The other expansion convs, stage 4's last two, stage 5's three and stages 6 and 7's five (on
  // 14 x 14 and 7 x 7 maps, below kOwnPointwiseMinPixels), have 154-885 KB of weights, at most
  // kOwnPointwiseMaxSmallMapWeightBytes: own pointwise steps, all ten.
  CHECK(pointwise == (avx512 ? 10 : 10 + 2));
  CHECK(std::count_if(own.primitives().begin(), own.primitives().end(), [&](const PrimitiveInfo& p) {
          return p.name == "head" && p.primitive == "own:pointwise";
        }) == 0);
  // At 320 x 320, stage 2's second block expands to 80 x 80 x 144 (3.7 MB): fused on every path.
  {
    const Graph big = expand(scale(builtin_baseline("efficientnet-b0"), {1.0, 1.0, 320}));
    OnednnNetwork net(big, o);
    int n = 0;
    for (const auto& p : net.primitives()) n += p.primitive == "own:expand+depthwise+se";
    CHECK(n == (avx512 ? 5 : 4));
  }
  // fused-expand-all: each block's expansion conv joins the step (stage 1 has none).
  o.fuse_expand = FuseExpand::kAll;
  OnednnNetwork all_fused(g, o);
  int all_with_expand = 0;
  for (const auto& p : all_fused.primitives()) all_with_expand += p.primitive == "own:expand+depthwise+se";
  CHECK(all_with_expand == 15);
  CHECK(all_fused.primitives().size() == g.layers.size() - 3 * 16 - 15 - 1 - head_fused);
  // no-fused-expand: every expansion conv is a step of its own.
  o.fuse_expand = FuseExpand::kOff;
  OnednnNetwork none_fused(g, o);
  CHECK(none_fused.primitives().size() == g.layers.size() - 3 * 16 - 1 - head_fused);
  o.fuse_expand = FuseExpand::kWide;
  o.own_depthwise = false;
  o.own_pointwise = false;
  o.own_classifier = false;
  OnednnNetwork library(g, o);
  CHECK(library.primitives().size() == g.layers.size());
}

TEST_CASE("MobileNetV2's small-map 1x1 convs: own pointwise steps where the rule says", "[onednn][kernels]") {
  omp_set_num_threads(2);
  const Graph g = expand(builtin_baseline("mobilenet-v2"));
  for (const kernels::Path path : {kernels::Path::kAvx512, kernels::Path::kAvx2, kernels::Path::kPortable}) {
    if (!kernels::available(path)) continue;
    INFO("kernel path " << kernels::to_string(path));
    NetworkOptions o;
    o.kernel_path = path;
    const bool avx512 = path == kernels::Path::kAvx512;
    std::vector<std::string> own;
    auto collect = [&](const NetworkOptions& options) {
      own.clear();
      const OnednnNetwork net(g, options);
      for (const auto& p : net.primitives())
        if (p.primitive == "own:pointwise") own.push_back(p.name);
    };
    collect(o);
    // Its convs have ReLU6, not the swish. Off the AVX-512 path its 14 x 14 and 7 x 7 expansions
    // (98-614 KB of weights, under kOwnPointwiseMaxSmallMapWeightBytes) are own steps, the head not;
    // on it, the 7 x 7 ones (kOwnPointwiseAnyActivationMaxPixels) and the 7 x 7 head, not the 14 x 14.
    const std::vector<std::string> seven = {"stage6.block2.expand", "stage6.block3.expand", "stage7.block1.expand"};
    const std::vector<std::string> fourteen = {"stage4.block2.expand", "stage4.block3.expand", "stage4.block4.expand",
                                               "stage5.block1.expand", "stage5.block2.expand", "stage5.block3.expand",
                                               "stage6.block1.expand"};
    auto has = [&](const std::string& name) { return std::find(own.begin(), own.end(), name) != own.end(); };
    for (const auto& name : seven) CHECK(has(name));
    for (const auto& name : fourteen) CHECK(has(name) == !avx512);
    CHECK_FALSE(has("head"));  // on the AVX-512 path, one step with the pool and classifier
    o.fuse_head_classifier = false;
    collect(o);
    CHECK(has("head") == avx512);
    // no-small-map-pointwise: every one of them oneDNN's.
    apply_lowering_switches("no-small-map-pointwise", o);
    collect(o);
    for (const auto& name : seven) CHECK_FALSE(has(name));
    for (const auto& name : fourteen) CHECK_FALSE(has(name));
    CHECK_FALSE(has("head"));
  }
}

TEST_CASE("MobileNetV2's fused expansion steps take the projection after them, B0's (with SE) do not", "[onednn][kernels]") {
  omp_set_num_threads(2);
  const Graph mb = expand(builtin_baseline("mobilenet-v2"));
  const Graph b0 = expand(builtin_baseline("efficientnet-b0"));
  for (const kernels::Path path : kernels::available_paths()) {
    INFO("kernel path " << kernels::to_string(path));
    NetworkOptions o;
    o.kernel_path = path;
    // Names of the steps that fuse an expansion, and of those among them that end in the projection.
    auto fused = [&](const Graph& g, const NetworkOptions& options) {
      std::pair<std::vector<std::string>, std::vector<std::string>> names;
      const OnednnNetwork net(g, options);
      for (const auto& p : net.primitives()) {
        if (p.primitive.rfind("own:expand+depthwise", 0) != 0) continue;
        names.first.push_back(p.name);
        if (p.primitive == "own:expand+depthwise+project") names.second.push_back(p.name);
      }
      return names;
    };
    const auto [mb_fused, mb_projected] = fused(mb, o);
    CHECK(mb_fused.size() >= 2);        // the strided 112x112 and 56x56 blocks fuse on every path
    CHECK(mb_projected == mb_fused);    // none has SE: each takes its projection
    if (path == kernels::Path::kAvx512) {
      const std::vector<std::string> expected = {
          "stage2.block1.expand+depthwise+project", "stage2.block2.expand+depthwise+project",
          "stage3.block1.expand+depthwise+project", "stage3.block2.expand+depthwise+project",
          "stage3.block3.expand+depthwise+project", "stage4.block1.expand+depthwise+project"};
      CHECK(mb_projected == expected);
    }
    const auto [b0_fused, b0_projected] = fused(b0, o);
    CHECK_FALSE(b0_fused.empty());
    CHECK(b0_projected.empty());        // the SE gate needs the whole depthwise output first
    apply_lowering_switches("no-fused-project", o);
    const auto [off_fused, off_projected] = fused(mb, o);
    CHECK(off_fused.size() == mb_fused.size());
    CHECK(off_projected.empty());
  }
}

TEST_CASE("the head conv, pool and classifier run as one step where the head is an own pointwise step", "[onednn][kernels]") {
  omp_set_num_threads(2);
  for (const char* baseline : {"mobilenet-v2", "efficientnet-b0"}) {
    const Graph g = expand(builtin_baseline(baseline));
    for (const kernels::Path path : kernels::available_paths()) {
      for (const char* switches : {"", "own-pointwise-all", "no-fused-classifier", "no-own-classifier"}) {
        INFO(baseline << ", kernel path " << kernels::to_string(path) << ", switches '" << switches << "'");
        NetworkOptions o;
        o.kernel_path = path;
        if (*switches) apply_lowering_switches(switches, o);
        const OnednnNetwork net(g, o);
        const auto& steps = net.primitives();
        bool own_head = false;
        for (const auto& p : steps)
          if (p.name == "head" && p.primitive == "own:pointwise") own_head = true;
        const bool fused = steps.back().primitive == "own:head+classifier";
        // On the AVX-512 path the head is an own pointwise step (network.hpp), elsewhere with
        // own-pointwise-all; then it fuses, unless a switch says otherwise.
        const bool head_rule = path == kernels::Path::kAvx512 || std::string(switches) == "own-pointwise-all";
        const bool fusable = std::string(switches) != "no-fused-classifier" && std::string(switches) != "no-own-classifier";
        CHECK(fused == (head_rule && fusable));
        CHECK(own_head == (head_rule && !fused));
        if (fused) CHECK(steps.back().name == "head+pool+fc");
      }
    }
  }
}

TEST_CASE("B0 runs on no reference kernel and reorders no activation", "[onednn]") {
  omp_set_num_threads(2);
  const Graph g = expand(builtin_baseline("efficientnet-b0"));
  NetworkOptions o;
  o.forbid_reference = true;
  OnednnNetwork net(g, o);
  for (const auto& p : net.primitives()) {
    INFO(p.name << " " << p.impl);
    CHECK(p.impl.rfind("ref", 0) != 0);
    CHECK(p.primitive != "reorder");
  }
}

TEST_CASE("MACs implied by the primitives equal the cost model's, B0-B7", "[onednn][slow]") {
  omp_set_num_threads(2);
  const NetworkSpec base = builtin_baseline("efficientnet-b0");
  for (const char* name : {"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"}) {
    INFO(name);
    const Graph g = expand(scale(base, find_preset(name)->factors));
    OnednnNetwork net(g, {});
    std::int64_t macs = 0;
    for (const auto& p : net.primitives()) macs += p.macs;
    CHECK(macs == network_cost(g).total.macs);
  }
}

TEST_CASE("buffer reuse keeps activation memory near the cost model's peak, with one thread", "[onednn]") {
  // Reference figures: the cost model's liveness peak and tensor sum (cost.hpp), channels padded to 16.
  const Graph g = expand(builtin_baseline("efficientnet-b0"));
  const std::int64_t peak = peak_activation_bytes(g, 16), total = total_activation_bytes(g, 16);
  REQUIRE(total > 3 * peak);
  NetworkOptions separate;
  separate.reuse_buffers = false;
  NetworkOptions shared_with_threads;
  apply_lowering_switches("reuse-buffers-with-threads", shared_with_threads);
  auto arena = [&](int threads, const NetworkOptions& o) {
    const OpenmpThreads count(threads);
    return OnednnNetwork(g, o).activation_bytes();
  };
  // The arena by liveness (plus the scratchpad) with one thread, or with the switch.
  CHECK(arena(1, {}) <= peak * 5 / 4);
  CHECK(arena(2, shared_with_threads) <= peak * 5 / 4);
  CHECK(arena(1, shared_with_threads) == arena(1, {}));
  // Every tensor its own buffer with two threads by default, or with no-buffer-reuse.
  const std::int64_t reused = arena(1, {});
  for (const std::int64_t bytes : {arena(2, {}), arena(1, separate), arena(2, separate)}) {
    CHECK(bytes > 3 * reused);
    CHECK(bytes <= total * 5 / 4);
  }
  // The estimate every command checks --max-memory against follows the same rule.
  CHECK(activation_bytes_estimate(g, {}, 1) == peak);
  CHECK(activation_bytes_estimate(g, {}, 2) == total);
  CHECK(activation_bytes_estimate(g, shared_with_threads, 2) == peak);
  CHECK(activation_bytes_estimate(g, separate, 1) == total);
  NetworkOptions two_images;
  two_images.batch = 2;
  CHECK(activation_bytes_estimate(g, two_images, 2) == 2 * total);
  CHECK(lowering_switches(shared_with_threads) == "reuse-buffers-with-threads");
  omp_set_num_threads(2);
}

TEST_CASE("synthetic weights keep activations O(1) at any depth", "[onednn]") {
  omp_set_num_threads(2);
  auto logit_rms = [](double depth) {
    const Graph g = expand(scale(builtin_baseline("efficientnet-b0"), {0.25, depth, 64}));
    OnednnNetwork net(g, {});
    net.set_input(make_input(1, 3, 64, 64, 1));
    net.run();
    double sum = 0;
    const auto logits = net.output();
    for (float v : logits) {
      REQUIRE(std::isfinite(v));
      sum += static_cast<double>(v) * v;
    }
    return std::sqrt(sum / static_cast<double>(logits.size()));
  };
  // B0's depth and L2's (5.3x the repeats: 85 blocks), small width and resolution. Measured with seed 1:
  // 0.39 and 0.54 (seeds 1-3 and depths 1-5.3 gave 0.22-0.54). A depth-exploding scale would grow by
  // orders of magnitude; the check allows a factor 2 either way around the measured values.
  const double shallow = logit_rms(1.0), deep = logit_rms(5.3);
  CHECK(shallow == Approx(0.39).epsilon(0.02));
  CHECK(deep > 0.27);
  CHECK(deep < 1.08);
  CHECK(deep / shallow < 2);
}

TEST_CASE("the same seed gives the same outputs, another seed does not", "[onednn]") {
  omp_set_num_threads(2);
  const Graph g = expand(scale(builtin_baseline("efficientnet-b0"), {0.25, 1.0, 32}));
  auto logits = [&](std::uint64_t seed) {
    NetworkOptions o;
    o.seed = seed;
    OnednnNetwork net(g, o);
    net.set_input(make_input(1, 3, 32, 32, 1));
    net.run();
    return net.output();
  };
  CHECK(logits(3) == logits(3));
  CHECK(logits(3) != logits(4));
}

TEST_CASE("a network runs only with the thread count it was built for, and the timer builds for its own", "[onednn]") {
  // oneDNN primitives keep the OpenMP thread count they were created with: a network built on a
  // thread whose count differs from the timing thread's would run teams the timing never asked for.
  const Graph g = expand(scale(builtin_baseline("efficientnet-b0"), {0.25, 1.0, 32}));
  omp_set_num_threads(1);
  std::unique_ptr<OnednnNetwork> net;
  {
    const OpenmpThreads two(2);
    net = std::make_unique<OnednnNetwork>(g, NetworkOptions{});
    net->set_input(make_input(1, 3, 32, 32, 1));
  }
  CHECK(omp_get_max_threads() == 1);  // the guard restored the count
  CHECK_THROWS_WITH(net->run(), Catch::Contains("built for 2 OpenMP thread(s) and is run with 1"));
  CHECK_THROWS_WITH(net->run_primitive(0), Catch::Contains("built for 2"));
  {
    const OpenmpThreads two(2);
    CHECK_NOTHROW(net->run());
  }

  // The timer builds every network for its own thread count, whatever the count of the thread that
  // builds it (here load() runs on a thread set to 3; its TBB workers keep the machine's default).
  OnednnTimer timer([&](int) { return g; }, NetworkOptions{}, 1);
  const std::vector<int> ids{0, 1, 2, 3, 4, 5};
  std::vector<std::string> failures;
  std::thread builder([&] {
    omp_set_num_threads(3);
    failures = timer.load(ids);
  });
  builder.join();
  for (const std::string& f : failures) CHECK(f.empty());
  for (int id : ids) CHECK_NOTHROW(timer.run(id));
  omp_set_num_threads(2);
}

TEST_CASE("oneDNN failures name the layer and oneDNN's status", "[onednn]") {
  Graph g = expand(scale(builtin_baseline("efficientnet-b0"), {0.25, 1.0, 32}));
  g.layers[1].groups = 3;  // the first depthwise conv: 8 channels cannot form 3 groups
  CHECK_THROWS_WITH(OnednnNetwork(g, {}), Catch::Contains("stage1.block1.depthwise") &&
                                              Catch::Contains("invalid_arguments"));
  NetworkOptions o;
  o.batch = 0;
  CHECK_THROWS_WITH(OnednnNetwork(expand(builtin_baseline("efficientnet-b0")), o), Catch::Contains("batch 0"));
}

TEST_CASE("timing statistics interpolate percentiles", "[bench]") {
  const TimingStats s = summarize({5, 1, 4, 2, 3});
  CHECK(s.runs == 5);
  CHECK(s.median_ms == 3);
  CHECK(s.min_ms == 1);
  CHECK(s.max_ms == 5);
  CHECK(s.p10_ms == Approx(1.4));
  CHECK(s.p90_ms == Approx(4.6));
  CHECK(s.mean_ms == 3);
  CHECK(summarize({}).runs == 0);
}

TEST_CASE("timing stops at both the minimum count and the minimum time", "[bench]") {
  int calls = 0;
  TimingOptions o;
  o.warmup_runs = 2;
  o.min_runs = 5;
  o.min_seconds = 0;
  auto samples = time_runs([&] { ++calls; }, o);
  CHECK(samples.size() == 5);
  CHECK(calls == 7);
  std::atomic<bool> stop{true};
  CHECK(time_runs([&] { ++calls; }, o, &stop).empty());
}
