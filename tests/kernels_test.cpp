#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>

#include "error.hpp"
#include "kernels/kernels.hpp"
#include "reference_executor.hpp"

using namespace effscale;
using namespace effscale::kernels;

namespace {

double act(Activation a, double x) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return std::max(0.0, x);
    case Activation::kRelu6: return std::min(6.0, std::max(0.0, x));
    case Activation::kSwish: return x / (1 + std::exp(-x));
    case Activation::kSigmoid: return 1 / (1 + std::exp(-x));
  }
  return x;
}

// TensorFlow SAME: out = ceil(in / stride), the extra padding at the bottom/right.
DepthwiseShape same_shape(int batch, int channels, int block, int h, int w, int kernel, int stride, Activation a) {
  DepthwiseShape s;
  s.batch = batch;
  s.block = block;
  s.blocks = (channels + block - 1) / block;
  s.in_h = h;
  s.in_w = w;
  s.out_h = (h + stride - 1) / stride;
  s.out_w = (w + stride - 1) / stride;
  s.kernel = kernel;
  s.stride = stride;
  s.pad_top = std::max((s.out_h - 1) * stride + kernel - h, 0) / 2;
  s.pad_left = std::max((s.out_w - 1) * stride + kernel - w, 0) / 2;
  s.activation = a;
  return s;
}

struct Case {
  DepthwiseShape shape;
  int channels;
  std::vector<float> src, weights, bias;
};

Case make_case(const DepthwiseShape& s, int channels, unsigned seed) {
  Case c{s, channels, {}, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  const int padded = s.blocks * s.block;
  c.src.resize(static_cast<size_t>(s.batch) * padded * s.in_h * s.in_w);
  for (size_t i = 0; i < c.src.size(); ++i) {
    const int ch = static_cast<int>(i / (s.in_h * s.in_w * s.block) % s.blocks) * s.block + static_cast<int>(i % s.block);
    c.src[i] = ch < channels ? 2 * u(rng) : 0.0f;  // the blocked layout's padding is zero
  }
  c.weights.assign(static_cast<size_t>(padded) * s.kernel * s.kernel, 0.0f);
  c.bias.assign(padded, 0.0f);
  for (int ch = 0; ch < channels; ++ch) {
    c.bias[ch] = 0.3f * u(rng);
    for (int t = 0; t < s.kernel * s.kernel; ++t)
      c.weights[(static_cast<size_t>(ch / s.block) * s.kernel * s.kernel + t) * s.block + ch % s.block] = u(rng) / s.kernel;
  }
  return c;
}

// Direct loops in double: dst in the blocked layout.
std::vector<double> reference_depthwise(const Case& c) {
  const DepthwiseShape& s = c.shape;
  const int padded = s.blocks * s.block;
  std::vector<double> out(static_cast<size_t>(s.batch) * padded * s.out_h * s.out_w, 0.0);
  auto at = [&](int n, int ch, int y, int x, int h, int w) {
    return ((static_cast<size_t>(n) * s.blocks + ch / s.block) * h * w + static_cast<size_t>(y) * w + x) * s.block + ch % s.block;
  };
  for (int n = 0; n < s.batch; ++n)
    for (int ch = 0; ch < c.channels; ++ch)
      for (int oy = 0; oy < s.out_h; ++oy)
        for (int ox = 0; ox < s.out_w; ++ox) {
          double acc = c.bias[ch];
          for (int ky = 0; ky < s.kernel; ++ky)
            for (int kx = 0; kx < s.kernel; ++kx) {
              const int iy = oy * s.stride - s.pad_top + ky, ix = ox * s.stride - s.pad_left + kx;
              if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
              acc += static_cast<double>(c.src[at(n, ch, iy, ix, s.in_h, s.in_w)]) *
                     c.weights[(static_cast<size_t>(ch / s.block) * s.kernel * s.kernel + ky * s.kernel + kx) * s.block + ch % s.block];
            }
          out[at(n, ch, oy, ox, s.out_h, s.out_w)] = act(s.activation, acc);
        }
  return out;
}

double max_error(const std::vector<float>& a, const std::vector<double>& b) {
  double scale = 1e-12, err = 0;
  for (double x : b) scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < a.size(); ++i) err = std::max(err, std::fabs(a[i] - b[i]));
  return err / scale;
}

// run(threads) on 1, 2 and 3 threads: within 1e-5 of ref (relative to its largest value), and the
// same bits each time.
template <class Run>
void check_threads(const Run& run, const std::vector<double>& ref) {
  const std::vector<float> one = run(1), two = run(2), three = run(3);
  CHECK(max_error(one, ref) <= 1e-5);
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0);
}

// check_threads of a classifier kernel: run(dst) writes [batch][outputs] (ref's size) into dst,
// and nothing past it.
template <class Run>
void check_classifier_threads(const std::vector<double>& ref, const Run& run) {
  check_threads(
      [&](int threads) {
        omp_set_num_threads(threads);
        std::vector<float> dst(ref.size() + 1, 99.0f);
        run(dst.data());
        CHECK(dst.back() == 99.0f);  // nothing written past [batch][outputs]
        dst.pop_back();
        return dst;
      },
      ref);
}

// The transposed weights [inputs][padded] as the matrix-product kernels take them.
std::vector<float> panels(Path path, const std::vector<float>& transposed, int inputs, int padded) {
  std::vector<float> out(transposed.size());
  pack_panels(path, transposed.data(), inputs, padded, out.data());
  return out;
}

}  // namespace

TEST_CASE("own depthwise kernels match direct loops on every path, shape and activation", "[kernels]") {
  // Reference: direct loops in double precision above (TensorFlow SAME padding).
  omp_set_num_threads(2);
  struct Geometry { int batch, channels, h, w, kernel, stride; };
  std::vector<Geometry> geometries = {
      {1, 32, 23, 37, 3, 1},  {1, 40, 19, 17, 3, 2}, {2, 24, 9, 12, 5, 1}, {1, 72, 14, 14, 5, 2},
      {1, 16, 7, 7, 5, 1},    {1, 8, 5, 3, 7, 3},    {1, 19, 1, 1, 3, 1},  {2, 48, 40, 33, 5, 1},
      {1, 33, 6, 25, 4, 2},   {1, 16, 3, 64, 3, 2},
      // Rows wider than 64 (the unpadded path: edge pixels, groups of 8, then 4 and a group of
      // 1-3, or one group of 5-7: 68, 66, 77 and 78 interior pixels).
      {1, 24, 6, 70, 3, 1},   {1, 16, 5, 135, 5, 2}, {1, 24, 4, 79, 3, 1}, {1, 8, 3, 80, 3, 1},
  };
  // Stride-1 maps up to 64 wide, 3x3 and 5x5 (read straight from the input, the taps outside the
  // row left out: one group of 1-8 pixels, or groups of 8 and a last one 1-8 wide, the one before
  // it 7 wide when a 5x5 row's last would be 1): every width up to 17 and some wider, on maps of 1
  // to 6 rows (the kernel taller than the map, rows cut at the top and bottom); 65 takes the other paths.
  for (int kernel : {3, 5})
    for (int w : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 24, 25, 33, 64, 65})
      geometries.push_back({w % 3 == 0 ? 2 : 1, 16 + 8 * (w % 2), 1 + w % 6, w, kernel, 1});
  for (Path path : available_paths()) {
    for (int block : {8, 16}) {
      if (block % vector_width(path) != 0) continue;
      for (const Geometry& g : geometries) {
        for (Activation a : {Activation::kSwish, Activation::kRelu6, Activation::kNone}) {
          const DepthwiseShape s = same_shape(g.batch, g.channels, block, g.h, g.w, g.kernel, g.stride, a);
          INFO(to_string(path) << " block " << block << " " << g.h << "x" << g.w << "x" << g.channels << " k" << g.kernel
                               << " s" << g.stride << " activation " << static_cast<int>(a));
          REQUIRE_NOTHROW(check(path, s));
          const Case c = make_case(s, g.channels, 17);
          std::vector<float> dst(static_cast<size_t>(s.batch) * s.blocks * s.block * s.out_h * s.out_w, 99.0f);
          std::vector<float> scratch(depthwise_scratch_floats(s));
          depthwise(path, s, c.src.data(), c.weights.data(), c.bias.data(), dst.data(), scratch.data());
          CHECK(max_error(dst, reference_depthwise(c)) <= 1e-5);
        }
      }
    }
  }
}

TEST_CASE("own depthwise+SE kernel: the gate matches direct loops, and one thread gives the same bits as two", "[kernels]") {
  // Reference: the SE definition (mean over the image, reduce FC + activation, expand FC + sigmoid) in double.
  for (Path path : available_paths()) {
    const int block = 16, channels = 44, squeezed = 5;
    const DepthwiseShape s = same_shape(2, channels, block, 15, 11, 3, 1, Activation::kSwish);
    const Case c = make_case(s, channels, 5);
    const int padded = s.blocks * block;
    SeShape se;
    se.channels = channels;
    se.padded = padded;
    se.squeezed = squeezed;
    se.inv_area = 1.0f / static_cast<float>(s.out_h * s.out_w);
    se.activation = Activation::kSwish;
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> reduce(static_cast<size_t>(squeezed) * padded, 0), reduce_b(squeezed), expand_t(reduce.size(), 0),
        expand_b(padded, 0);
    for (int j = 0; j < squeezed; ++j) {
      reduce_b[j] = u(rng);
      for (int ch = 0; ch < channels; ++ch) {
        reduce[j * padded + ch] = u(rng);
        expand_t[j * padded + ch] = u(rng);
      }
    }
    for (int ch = 0; ch < channels; ++ch) expand_b[ch] = u(rng);
    const SeWeights w{reduce.data(), reduce_b.data(), expand_t.data(), expand_b.data()};

    auto run = [&](int threads, std::vector<float>& dst, std::vector<float>& gate) {
      omp_set_num_threads(threads);
      dst.assign(static_cast<size_t>(s.batch) * padded * s.out_h * s.out_w, 0);
      gate.assign(static_cast<size_t>(s.batch) * padded, 99);
      std::vector<float> scratch(depthwise_se_scratch_floats(s, se));
      depthwise_se(path, s, &se, c.src.data(), c.weights.data(), c.bias.data(), dst.data(), &w, gate.data(), scratch.data());
    };
    std::vector<float> dst1, gate1, dst2, gate2;
    run(1, dst1, gate1);
    run(2, dst2, gate2);
    INFO(to_string(path));
    CHECK(std::memcmp(gate1.data(), gate2.data(), gate1.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(dst1.data(), dst2.data(), dst1.size() * sizeof(float)) == 0);

    const std::vector<double> ref = reference_depthwise(c);
    CHECK(max_error(dst2, ref) <= 1e-5);
    std::vector<double> expected(gate2.size(), 0.0);
    for (int n = 0; n < s.batch; ++n) {
      std::vector<double> pooled(channels, 0.0), sq(squeezed, 0.0);
      for (int ch = 0; ch < channels; ++ch) {
        for (int p = 0; p < s.out_h * s.out_w; ++p)
          pooled[ch] += ref[((static_cast<size_t>(n) * s.blocks + ch / block) * s.out_h * s.out_w + p) * block + ch % block];
        pooled[ch] /= s.out_h * s.out_w;
      }
      for (int j = 0; j < squeezed; ++j) {
        double a = reduce_b[j];
        for (int ch = 0; ch < channels; ++ch) a += reduce[j * padded + ch] * pooled[ch];
        sq[j] = act(Activation::kSwish, a);
      }
      for (int ch = 0; ch < channels; ++ch) {
        double a = expand_b[ch];
        for (int j = 0; j < squeezed; ++j) a += expand_t[j * padded + ch] * sq[j];
        expected[static_cast<size_t>(n) * padded + ch] = act(Activation::kSigmoid, a);
      }
    }
    CHECK(max_error(gate2, expected) <= 1e-5);
    for (int n = 0; n < s.batch; ++n)
      for (int ch = channels; ch < padded; ++ch) CHECK(gate2[static_cast<size_t>(n) * padded + ch] == 0.0f);
  }
}

TEST_CASE("scale_runs scales each run by its channel's gate on every path", "[kernels]") {
  for (Path path : available_paths()) {
    for (int run : {16, 8, 3, 1}) {
      const size_t runs = 37;
      std::vector<float> src(runs * run), dst(src.size());
      std::vector<int> channel(runs);
      std::vector<float> gate(11);
      for (size_t i = 0; i < src.size(); ++i) src[i] = 0.5f + static_cast<float>(i % 13);
      for (size_t r = 0; r < runs; ++r) channel[r] = static_cast<int>((r * 7) % gate.size());
      for (size_t g = 0; g < gate.size(); ++g) gate[g] = 0.1f * static_cast<float>(g) - 0.3f;
      scale_runs(path, src.data(), dst.data(), runs, run, channel.data(), gate.data());
      INFO(to_string(path) << " run " << run);
      for (size_t i = 0; i < src.size(); ++i) REQUIRE(dst[i] == src[i] * gate[channel[i / run]]);
    }
  }
}

TEST_CASE("kernel shapes outside the kernels' range are refused with the reason", "[kernels]") {
  DepthwiseShape s = same_shape(1, 16, 16, 8, 8, 3, 1, Activation::kNone);
  CHECK_NOTHROW(check(Path::kPortable, s));
  s.block = 6;
  CHECK_THROWS_WITH(check(Path::kPortable, s), Catch::Contains("not a multiple of the portable kernels' vector width 4"));
  s.block = 16;
  s.kernel = 17;
  CHECK_THROWS_WITH(check(Path::kPortable, s), Catch::Contains("the own kernels take 1..15"));
  s.kernel = 3;
  s.out_h = 20;
  CHECK_THROWS_WITH(check(Path::kPortable, s), Catch::Contains("inconsistent depthwise shape"));
  CHECK(available(Path::kPortable));
  CHECK(available_paths().back() == Path::kPortable);
  // nChw8c (oneDNN limited to AVX2 on an AVX-512 CPU) takes the widest path whose vectors divide 8.
  CHECK(8 % vector_width(best_path(8)) == 0);
  CHECK(available(best_path(8)));
  CHECK(best_path(16) == best_path());
}

namespace {

// A fused expansion + depthwise case: the block input src, the expansion's weights (transposed,
// and in panels) and bias, and the depthwise Case whose src is the expansion's output, computed
// in double (the reference the fused kernel is checked against).
struct FusedCase {
  DepthwiseShape shape;
  ExpandShape expand;
  std::vector<float> src, ew_panels, eb;
  Case depthwise;
};

struct FusedGeometry {
  int batch, in_channels, channels, h, w, kernel, stride;
};

FusedCase make_fused_case(Path path, int block, const FusedGeometry& g) {
  FusedCase f;
  const DepthwiseShape s = same_shape(g.batch, g.channels, block, g.h, g.w, g.kernel, g.stride, Activation::kSwish);
  f.shape = s;
  ExpandShape& e = f.expand;
  e.in_channels = g.in_channels;
  e.in_blocks = (g.in_channels + block - 1) / block;
  e.activation = Activation::kRelu6;
  const int padded = s.blocks * block, plane = s.in_h * s.in_w;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1, 1);
  f.src.assign(static_cast<size_t>(s.batch) * e.in_blocks * block * plane, 0.0f);
  for (int n = 0; n < s.batch; ++n)
    for (int ic = 0; ic < g.in_channels; ++ic)
      for (int p = 0; p < plane; ++p)
        f.src[((static_cast<size_t>(n) * e.in_blocks + ic / block) * plane + p) * block + ic % block] = 2 * u(rng);
  std::vector<float> ew(static_cast<size_t>(g.in_channels) * padded, 0.0f);
  f.eb.assign(padded, 0.0f);
  for (int c = 0; c < g.channels; ++c) {
    f.eb[c] = 0.5f * u(rng);
    for (int ic = 0; ic < g.in_channels; ++ic) ew[static_cast<size_t>(ic) * padded + c] = u(rng) / 2;
  }
  f.ew_panels = panels(path, ew, g.in_channels, padded);
  f.depthwise = make_case(s, g.channels, 21);  // depthwise weights and bias; src replaced by the expansion
  for (int n = 0; n < s.batch; ++n)
    for (int ch = 0; ch < g.channels; ++ch)
      for (int p = 0; p < plane; ++p) {
        double a = f.eb[ch];
        for (int ic = 0; ic < g.in_channels; ++ic)
          a += static_cast<double>(ew[static_cast<size_t>(ic) * padded + ch]) *
               f.src[((static_cast<size_t>(n) * e.in_blocks + ic / block) * plane + p) * block + ic % block];
        f.depthwise.src[((static_cast<size_t>(n) * s.blocks + ch / block) * plane + p) * block + ch % block] =
            static_cast<float>(act(e.activation, a));
      }
  return f;
}

// expand_depthwise on `threads` threads into a buffer of `dst_floats` floats (first filled with 99).
std::vector<float> run_fused(Path path, const FusedCase& f, int threads, size_t dst_floats,
                             const Projection* project = nullptr) {
  omp_set_num_threads(threads);
  std::vector<float> dst(dst_floats, 99.0f);
  std::vector<float> scratch(expand_depthwise_scratch_floats(path, f.shape, nullptr));
  expand_depthwise(path, f.shape, f.expand, f.src.data(), f.ew_panels.data(), f.eb.data(), f.depthwise.weights.data(),
                   f.depthwise.bias.data(), dst.data(), nullptr, nullptr, nullptr, scratch.data(), project);
  return dst;
}

const FusedGeometry kFusedGeometries[] = {
    {1, 16, 96, 23, 37, 3, 2}, {2, 24, 40, 19, 17, 5, 1}, {1, 40, 72, 14, 13, 5, 2},
    {1, 7, 8, 5, 3, 7, 3},     {1, 19, 33, 1, 1, 3, 1},   {1, 12, 24, 3, 30, 3, 2},
};

}  // namespace

TEST_CASE("own fused expansion + depthwise kernel matches direct loops, and 1, 2 and 3 threads give the same bits", "[kernels]") {
  // Reference: the 1x1 expansion conv + activation in double, then the direct depthwise loops above.
  for (Path path : available_paths()) {
    for (int block : {8, 16}) {
      if (block % vector_width(path) != 0) continue;
      for (const FusedGeometry& g : kFusedGeometries) {
        const FusedCase f = make_fused_case(path, block, g);
        const DepthwiseShape& s = f.shape;
        INFO(to_string(path) << " block " << block << " " << g.h << "x" << g.w << " " << g.in_channels << "->"
                             << g.channels << " k" << g.kernel << " s" << g.stride);
        REQUIRE(expand_fits(path, s));
        const size_t floats = static_cast<size_t>(s.batch) * s.blocks * block * s.out_h * s.out_w;
        check_threads([&](int threads) { return run_fused(path, f, threads, floats); }, reference_depthwise(f.depthwise));
      }
    }
  }
  omp_set_num_threads(2);
}

TEST_CASE("own fused expansion + depthwise + projection matches direct loops, with and without a shortcut", "[kernels]") {
  // Reference: the depthwise reference above (double), then the 1x1 projection conv in double:
  // dst = activation(sum over channels of weights x depthwise + bias + residual).
  for (Path path : available_paths()) {
    for (int block : {8, 16}) {
      if (block % vector_width(path) != 0) continue;
      for (const FusedGeometry& g : kFusedGeometries) {
        // 24 and 40 outputs: the last vector half padding with blocks of 16, which the AVX-512
        // path computes in pairs of pixels when it knows the real channels (out_channels).
        for (int outputs : {24, 5, 51, 40}) {
          for (int variant = 0; variant < 4; ++variant) {
            const bool shortcut = variant % 2 == 1, real_known = variant >= 2;
            const FusedCase f = make_fused_case(path, block, g);
            const DepthwiseShape& s = f.shape;
            const Activation pa = shortcut ? Activation::kNone : Activation::kRelu;
            INFO(to_string(path) << " block " << block << " " << g.h << "x" << g.w << " " << g.in_channels << "->"
                                 << g.channels << "->" << outputs << " k" << g.kernel << " s" << g.stride
                                 << (shortcut ? " with shortcut" : "") << (real_known ? ", real channels known" : ""));
            const int out_blocks = (outputs + block - 1) / block, out_padded = out_blocks * block;
            const int plane = s.out_h * s.out_w;
            std::mt19937 rng(31);
            std::uniform_real_distribution<float> u(-1, 1);
            std::vector<float> pw(static_cast<size_t>(g.channels) * out_padded, 0.0f), pb(out_padded, 0.0f);
            for (int o = 0; o < outputs; ++o) {
              pb[o] = 0.2f * u(rng);
              for (int c = 0; c < g.channels; ++c) pw[static_cast<size_t>(c) * out_padded + o] = u(rng) / 4;
            }
            const std::vector<float> pw_panels = panels(path, pw, g.channels, out_padded);
            const size_t floats = static_cast<size_t>(s.batch) * out_padded * plane;
            std::vector<float> residual(floats, 0.0f);
            for (size_t i = 0; i < floats; ++i)
              if (static_cast<int>(i / (static_cast<size_t>(plane) * block) % out_blocks) * block +
                      static_cast<int>(i % block) < outputs)
                residual[i] = u(rng);
            Projection pj;
            pj.in_channels = g.channels;
            pj.out_blocks = out_blocks;
            pj.out_channels = real_known ? outputs : 0;
            pj.activation = pa;
            pj.weights = pw_panels.data();
            pj.bias = pb.data();
            pj.residual = shortcut ? residual.data() : nullptr;

            const std::vector<double> mid = reference_depthwise(f.depthwise);
            std::vector<double> expected(floats, 0.0);
            for (int n = 0; n < s.batch; ++n)
              for (int o = 0; o < outputs; ++o)
                for (int p = 0; p < plane; ++p) {
                  double a = pb[o];
                  for (int c = 0; c < g.channels; ++c)
                    a += static_cast<double>(pw[static_cast<size_t>(c) * out_padded + o]) *
                         mid[((static_cast<size_t>(n) * s.blocks + c / block) * plane + p) * block + c % block];
                  const size_t at = ((static_cast<size_t>(n) * out_blocks + o / block) * plane + p) * block + o % block;
                  if (shortcut) a += residual[at];
                  expected[at] = act(pa, a);
                }
            // Padded output channels included: they must come out zero.
            check_threads([&](int threads) { return run_fused(path, f, threads, floats, &pj); }, expected);
            if (variant == 3) {
              pj.out_channels = out_padded + 1;
              CHECK_THROWS_WITH(run_fused(path, f, 1, floats, &pj), Catch::Contains("real output channels"));
            }
          }
        }
      }
    }
  }
  omp_set_num_threads(2);
}

TEST_CASE("pack_panels cuts the transposed weights into panels of kPanelVectors vectors, the last narrower", "[kernels]") {
  // The layout kernels.hpp documents, checked element by element: 3 inputs x 5 vectors is a panel
  // of 3 vectors, then one of 2; 3 inputs x 4 vectors, a panel of 3, then one of 1.
  for (Path path : available_paths()) {
    const int w = vector_width(path), inputs = 3;
    for (int vectors : {5, 4, 3, 1}) {
      INFO(to_string(path) << ", " << vectors << " vectors");
      const int padded = vectors * w;
      std::vector<float> t(static_cast<size_t>(inputs) * padded);
      for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i);
      const std::vector<float> p = panels(path, t, inputs, padded);
      for (int i = 0; i < inputs; ++i)
        for (int c = 0; c < padded; ++c) {
          const int first = c / w / kPanelVectors * kPanelVectors;  // the panel's first vector
          const int width = std::min(kPanelVectors, vectors - first) * w;
          const size_t at = static_cast<size_t>(first) * w * inputs + static_cast<size_t>(i) * width + (c - first * w);
          REQUIRE(p[at] == t[static_cast<size_t>(i) * padded + c]);
        }
    }
    std::vector<float> t(3 * (w + 1)), p(t.size());
    CHECK_THROWS_WITH(pack_panels(path, t.data(), 3, w + 1, p.data()), Catch::Contains("panels"));
  }
}

TEST_CASE("own pointwise kernel matches direct loops on every path, shape and activation", "[kernels]") {
  // Reference: the 1x1 convolution + activation as direct loops in double.
  struct Geometry { int batch, in_channels, channels, pixels; };
  // {2, 100, 300, 130}: more than 128 pixels, but weights more than twice the input: one chunk.
  const Geometry geometries[] = {{1, 24, 144, 56 * 56}, {2, 40, 72, 131}, {1, 192, 1152, 49},
                                 {1, 7, 9, 1},          {1, 33, 50, 300}, {2, 100, 300, 130}};
  for (Path path : available_paths()) {
    for (int block : {8, 16}) {
      if (block % vector_width(path) != 0) continue;
      for (const Geometry& g : geometries) {
        for (Activation a : {Activation::kSwish, Activation::kRelu6, Activation::kNone}) {
          PointwiseShape s;
          s.batch = g.batch;
          s.block = block;
          s.in_channels = g.in_channels;
          s.in_blocks = (g.in_channels + block - 1) / block;
          s.out_blocks = (g.channels + block - 1) / block;
          s.pixels = g.pixels;
          s.activation = a;
          INFO(to_string(path) << " block " << block << " " << g.in_channels << "->" << g.channels << " x " << g.pixels
                               << " activation " << static_cast<int>(a));
          REQUIRE_NOTHROW(check(path, s));
          const int padded = s.out_blocks * block;
          std::mt19937 rng(4);
          std::uniform_real_distribution<float> u(-1, 1);
          std::vector<float> src(static_cast<size_t>(g.batch) * s.in_blocks * block * g.pixels, 0.0f);
          for (int n = 0; n < g.batch; ++n)
            for (int ic = 0; ic < g.in_channels; ++ic)
              for (int p = 0; p < g.pixels; ++p)
                src[((static_cast<size_t>(n) * s.in_blocks + ic / block) * g.pixels + p) * block + ic % block] = 2 * u(rng);
          std::vector<float> w(static_cast<size_t>(g.in_channels) * padded, 0.0f), b(padded, 0.0f);
          for (int c = 0; c < g.channels; ++c) {
            b[c] = 0.5f * u(rng);
            for (int ic = 0; ic < g.in_channels; ++ic) w[static_cast<size_t>(ic) * padded + c] = u(rng) / 4;
          }
          const std::vector<float> w_panels = panels(path, w, g.in_channels, padded);
          std::vector<double> ref(static_cast<size_t>(g.batch) * padded * g.pixels, 0.0);
          for (int n = 0; n < g.batch; ++n)
            for (int c = 0; c < g.channels; ++c)
              for (int p = 0; p < g.pixels; ++p) {
                double acc = b[c];
                for (int ic = 0; ic < g.in_channels; ++ic)
                  acc += static_cast<double>(w[static_cast<size_t>(ic) * padded + c]) *
                         src[((static_cast<size_t>(n) * s.in_blocks + ic / block) * g.pixels + p) * block + ic % block];
                ref[((static_cast<size_t>(n) * s.out_blocks + c / block) * g.pixels + p) * block + c % block] = act(a, acc);
              }
          auto run = [&](int threads) {
            omp_set_num_threads(threads);
            std::vector<float> dst(ref.size(), 99.0f);
            pointwise(path, s, src.data(), w_panels.data(), b.data(), dst.data());
            return dst;
          };
          const std::vector<float> one = run(1), two = run(2);
          CHECK(max_error(two, ref) <= 1e-5);  // padded channels included: they must be 0
          CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
        }
      }
    }
  }
  omp_set_num_threads(2);
  PointwiseShape sigmoid;
  sigmoid.activation = Activation::kSigmoid;
  CHECK_THROWS_WITH(check(Path::kPortable, sigmoid), Catch::Contains("not sigmoid"));
}

TEST_CASE("own stem kernel matches direct loops on every path, shape and activation", "[kernels]") {
  // Reference: the dense convolution from the NCHW image + activation as direct loops in double,
  // TensorFlow SAME padding (same_shape's).
  struct Geometry { int batch, channels, out_channels, h, w, kernel, stride; };
  const Geometry geometries[] = {{1, 3, 32, 64, 64, 3, 2}, {1, 3, 48, 37, 29, 3, 2}, {2, 3, 40, 20, 21, 3, 2},
                                 {1, 1, 8, 9, 17, 5, 1},  {1, 4, 24, 15, 13, 5, 2}, {1, 3, 16, 1, 1, 3, 2},
                                 // 32 channels, 13 columns: the AVX2 path's tiles of 3 pixels x 4 vectors, and 1 left
                                 {2, 3, 32, 19, 26, 3, 2}};
  for (Path path : available_paths()) {
    for (int block : {8, 16}) {
      if (block % vector_width(path) != 0) continue;
      for (const Geometry& g : geometries) {
        for (Activation a : {Activation::kSwish, Activation::kRelu6, Activation::kNone}) {
          const DepthwiseShape window = same_shape(g.batch, g.out_channels, block, g.h, g.w, g.kernel, g.stride, a);
          StemShape s;
          s.batch = g.batch;
          s.channels = g.channels;
          s.block = block;
          s.out_blocks = window.blocks;
          s.in_h = g.h;
          s.in_w = g.w;
          s.out_h = window.out_h;
          s.out_w = window.out_w;
          s.kernel = g.kernel;
          s.stride = g.stride;
          s.pad_top = window.pad_top;
          s.pad_left = window.pad_left;
          s.activation = a;
          INFO(to_string(path) << " block " << block << " " << g.channels << "->" << g.out_channels << " " << g.h
                               << "x" << g.w << " k" << g.kernel << " s" << g.stride << " activation "
                               << static_cast<int>(a));
          REQUIRE_NOTHROW(check(path, s));
          const int padded = s.out_blocks * block, k = g.kernel, taps = g.channels * k * k;
          std::mt19937 rng(6);
          std::uniform_real_distribution<float> u(-1, 1);
          std::vector<float> src(static_cast<size_t>(g.batch) * g.channels * g.h * g.w);
          for (float& x : src) x = 2 * u(rng);
          std::vector<float> w(static_cast<size_t>(taps) * padded, 0.0f), b(padded, 0.0f);
          for (int c = 0; c < g.out_channels; ++c) {
            b[c] = 0.5f * u(rng);
            for (int t = 0; t < taps; ++t) w[static_cast<size_t>(t) * padded + c] = u(rng) / k;
          }
          const std::vector<float> w_panels = panels(path, w, taps, padded);
          std::vector<double> ref(static_cast<size_t>(g.batch) * padded * s.out_h * s.out_w, 0.0);
          for (int n = 0; n < g.batch; ++n)
            for (int c = 0; c < g.out_channels; ++c)
              for (int oy = 0; oy < s.out_h; ++oy)
                for (int ox = 0; ox < s.out_w; ++ox) {
                  double acc = b[c];
                  for (int ic = 0; ic < g.channels; ++ic)
                    for (int ky = 0; ky < k; ++ky)
                      for (int kx = 0; kx < k; ++kx) {
                        const int iy = oy * g.stride - s.pad_top + ky, ix = ox * g.stride - s.pad_left + kx;
                        if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                        acc += static_cast<double>(w[static_cast<size_t>((ic * k + ky) * k + kx) * padded + c]) *
                               src[((static_cast<size_t>(n) * g.channels + ic) * g.h + iy) * g.w + ix];
                      }
                  ref[((static_cast<size_t>(n) * s.out_blocks + c / block) * s.out_h + oy) * s.out_w * block +
                      static_cast<size_t>(ox) * block + c % block] = act(a, acc);
                }
          auto run = [&](int threads) {
            omp_set_num_threads(threads);
            std::vector<float> dst(ref.size(), 99.0f);
            stem(path, s, src.data(), w_panels.data(), b.data(), dst.data());
            return dst;
          };
          const std::vector<float> one = run(1), two = run(2);
          CHECK(max_error(two, ref) <= 1e-5);  // padded channels included: they must be 0
          CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
        }
      }
    }
  }
  omp_set_num_threads(2);
  // Refused: a sigmoid (padded channels would not stay 0), an input band over kStemFloats, and
  // more than kStemMaxTaps taps.
  StemShape s;
  s.in_h = s.in_w = 64;
  s.out_h = s.out_w = 32;
  s.pad_top = s.pad_left = 0;
  CHECK_NOTHROW(check(Path::kPortable, s));
  s.activation = Activation::kSigmoid;
  CHECK_THROWS_WITH(check(Path::kPortable, s), Catch::Contains("not sigmoid"));
  s.activation = Activation::kSwish;
  s.in_h = s.in_w = 4000;
  s.out_h = s.out_w = 2000;
  CHECK_THROWS_WITH(check(Path::kPortable, s), Catch::Contains("at most 16384"));
  s.out_w = 2001;
  CHECK_THROWS_WITH(check(Path::kPortable, s), Catch::Contains("inconsistent stem shape"));
  s.in_h = s.in_w = 64;
  s.out_h = s.out_w = 32;
  s.kernel = 15;
  s.pad_top = s.pad_left = 7;
  s.channels = 4;  // 900 taps
  CHECK_NOTHROW(check(Path::kPortable, s));
  s.channels = 5;  // 1125 taps
  CHECK_THROWS_WITH(check(Path::kPortable, s), Catch::Contains("at most 1024"));
}

TEST_CASE("own fused head + pool + classifier kernel matches direct loops, and 1, 2 and 3 threads give the same bits",
          "[kernels]") {
  // Reference: the head 1x1 conv + activation, the global average pool and the fully connected
  // layer + activation as direct loops in double.
  struct Geometry { int batch, in_channels, channels, outputs, pixels; };
  // 320 -> 1280 -> 1000 on 7 x 7 (MobileNetV2, B0); channels ending in a panel of 1 or 2 vectors
  // and not a multiple of a vector; outputs under 16 and not a multiple of a vector; a 1 x 1 map.
  const Geometry geometries[] = {{1, 320, 1280, 1000, 49}, {2, 19, 83, 37, 13}, {1, 7, 16, 1, 1},
                                 {3, 40, 100, 19, 6},      {1, 24, 40, 1001, 9}};
  for (Path path : available_paths()) {
    for (int block : {8, 16}) {
      if (block % vector_width(path) != 0) continue;
      for (const Geometry& g : geometries) {
        for (Activation fa : {Activation::kNone, Activation::kSigmoid}) {
          HeadClassifierShape s;
          s.head.batch = g.batch;
          s.head.block = block;
          s.head.in_channels = g.in_channels;
          s.head.in_blocks = (g.in_channels + block - 1) / block;
          s.head.out_blocks = (g.channels + block - 1) / block;
          s.head.pixels = g.pixels;
          s.head.activation = fa == Activation::kNone ? Activation::kSwish : Activation::kRelu6;
          s.channels = g.channels;
          s.outputs = g.outputs;
          s.activation = fa;
          INFO(to_string(path) << " block " << block << " batch " << g.batch << " " << g.in_channels << "->"
                               << g.channels << "->" << g.outputs << " over " << g.pixels << " pixels");
          REQUIRE_NOTHROW(check(path, s));
          const int padded = s.head.out_blocks * block, rows = head_classifier_outputs(s);
          REQUIRE(rows % 16 == 0);
          REQUIRE(rows >= g.outputs);
          std::mt19937 rng(8);
          std::uniform_real_distribution<float> u(-1, 1);
          std::vector<float> src(static_cast<size_t>(g.batch) * s.head.in_blocks * block * g.pixels, 0.0f);
          auto at = [&](int n, int c, int p) {
            return ((static_cast<size_t>(n) * s.head.in_blocks + c / block) * g.pixels + p) * block + c % block;
          };
          for (int n = 0; n < g.batch; ++n)
            for (int c = 0; c < g.in_channels; ++c)
              for (int p = 0; p < g.pixels; ++p) src[at(n, c, p)] = 2 * u(rng);
          std::vector<float> hw(static_cast<size_t>(g.in_channels) * padded, 0.0f), hb(padded, 0.0f);
          for (int c = 0; c < g.channels; ++c) {
            hb[c] = 0.3f * u(rng);
            for (int i = 0; i < g.in_channels; ++i) hw[static_cast<size_t>(i) * padded + c] = u(rng) / 4;
          }
          std::vector<float> fc(static_cast<size_t>(g.outputs) * g.channels), fb(g.outputs);
          for (int o = 0; o < g.outputs; ++o) {
            fb[o] = 0.5f * u(rng);
            for (int c = 0; c < g.channels; ++c) fc[static_cast<size_t>(o) * g.channels + c] = u(rng) / 8;
          }
          std::vector<double> ref(static_cast<size_t>(g.batch) * g.outputs);
          for (int n = 0; n < g.batch; ++n) {
            std::vector<double> pooled(g.channels, 0.0);
            for (int c = 0; c < g.channels; ++c) {
              for (int p = 0; p < g.pixels; ++p) {
                double a = hb[c];
                for (int i = 0; i < g.in_channels; ++i)
                  a += static_cast<double>(hw[static_cast<size_t>(i) * padded + c]) * src[at(n, i, p)];
                pooled[c] += act(s.head.activation, a);
              }
              pooled[c] /= g.pixels;
            }
            for (int o = 0; o < g.outputs; ++o) {
              double acc = fb[o];
              for (int c = 0; c < g.channels; ++c) acc += static_cast<double>(fc[static_cast<size_t>(o) * g.channels + c]) * pooled[c];
              ref[static_cast<size_t>(n) * g.outputs + o] = act(fa, acc);
            }
          }
          const std::vector<float> hw_panels = panels(path, hw, g.in_channels, padded);
          std::vector<float> packed(static_cast<size_t>(padded) * rows, 99.0f);
          pack_head_classifier(s, fc.data(), packed.data());
          check_classifier_threads(ref, [&](float* dst) {
            std::vector<float> scratch(head_classifier_scratch_floats(path, s));
            head_classifier(path, s, src.data(), hw_panels.data(), hb.data(), packed.data(), fb.data(), dst,
                            scratch.data());
          });
        }
      }
    }
  }
  omp_set_num_threads(2);
  HeadClassifierShape big;
  big.head.pixels = 200 * 200;
  big.head.out_blocks = 80;
  big.channels = 1280;
  CHECK_THROWS_WITH(check(best_path(), big), Catch::Contains("too large for the fused head and classifier"));
}

TEST_CASE("own classifier kernel (pool + fully connected) matches direct loops on every path, shape and activation",
          "[kernels]") {
  // Reference: the global average pool and the fully connected layer + activation as direct loops
  // in double.
  struct Geometry { int batch, in_channels, outputs, pixels; };
  // 1280 -> 1000 on 7 x 7 (MobileNetV2, B0); outputs not a multiple of the streams, of 2 threads'
  // shares or of anything; inputs not a multiple of a vector; one input, one output, a 1 x 1 map.
  const Geometry geometries[] = {{1, 1280, 1000, 49}, {3, 40, 19, 5}, {2, 33, 8, 1}, {1, 1, 1, 3}, {1, 100, 7, 64}};
  for (Path path : available_paths()) {
    for (int block : {8, 16}) {
      if (block % vector_width(path) != 0) continue;
      for (const Geometry& g : geometries) {
        for (Activation a : {Activation::kNone, Activation::kRelu6, Activation::kSwish, Activation::kSigmoid}) {
          ClassifierShape s;
          s.batch = g.batch;
          s.block = block;
          s.in_channels = g.in_channels;
          s.in_blocks = (g.in_channels + block - 1) / block;
          s.pixels = g.pixels;
          s.outputs = g.outputs;
          s.activation = a;
          INFO(to_string(path) << " block " << block << " batch " << g.batch << " " << g.in_channels << "->"
                               << g.outputs << " over " << g.pixels << " pixels, activation " << static_cast<int>(a));
          REQUIRE_NOTHROW(check(path, s));
          const int row = classifier_row(s);
          REQUIRE(row % 16 == 0);
          REQUIRE(row >= g.in_channels);
          std::mt19937 rng(6);
          std::uniform_real_distribution<float> u(-1, 1);
          std::vector<float> src(static_cast<size_t>(g.batch) * s.in_blocks * block * g.pixels, 0.0f);
          auto at = [&](int n, int c, int p) {
            return ((static_cast<size_t>(n) * s.in_blocks + c / block) * g.pixels + p) * block + c % block;
          };
          for (int n = 0; n < g.batch; ++n)
            for (int c = 0; c < g.in_channels; ++c)
              for (int p = 0; p < g.pixels; ++p) src[at(n, c, p)] = 3 * u(rng);
          std::vector<float> w(static_cast<size_t>(g.outputs) * row, 0.0f), b(g.outputs);
          for (int o = 0; o < g.outputs; ++o) {
            b[o] = 0.5f * u(rng);
            for (int c = 0; c < g.in_channels; ++c) w[static_cast<size_t>(o) * row + c] = u(rng) / 8;
          }
          std::vector<double> ref(static_cast<size_t>(g.batch) * g.outputs);
          for (int n = 0; n < g.batch; ++n)
            for (int o = 0; o < g.outputs; ++o) {
              double acc = b[o];
              for (int c = 0; c < g.in_channels; ++c) {
                double mean = 0;
                for (int p = 0; p < g.pixels; ++p) mean += src[at(n, c, p)];
                acc += static_cast<double>(w[static_cast<size_t>(o) * row + c]) * (mean / g.pixels);
              }
              ref[static_cast<size_t>(n) * g.outputs + o] = act(a, acc);
            }
          check_classifier_threads(ref, [&](float* dst) {
            std::vector<float> scratch(static_cast<size_t>(g.batch) * s.in_blocks * block);
            classifier(path, s, src.data(), w.data(), b.data(), dst, scratch.data());
          });
        }
      }
    }
  }
  omp_set_num_threads(2);
  ClassifierShape wrong;
  wrong.block = 16;
  wrong.in_channels = 40;
  wrong.in_blocks = 2;  // 32 channels of room for 40
  CHECK_THROWS_WITH(check(Path::kPortable, wrong), Catch::Contains("inconsistent classifier shape"));
}
