// The kernels' one implementation, included by one translation unit per path with
// EFFSCALE_KERNEL_PATH (the path's namespace) and EFFSCALE_VECTOR_WIDTH (floats a vector) defined,
// and compiled with that path's instruction-set flags. Everything but the entry points has
// internal linkage and no standard-library inline function is used, so the linker can never hand
// one path's instructions to another path. No include guard: included once per path.

#include <immintrin.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <new>
#include <cstring>

#include "kernels/paths.hpp"

namespace effscale::kernels::EFFSCALE_KERNEL_PATH {
namespace {

constexpr int W = EFFSCALE_VECTOR_WIDTH;
typedef float V __attribute__((vector_size(W * sizeof(float))));
typedef std::uint32_t VU __attribute__((vector_size(W * sizeof(float))));

inline V load(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

inline void store(float* p, V v) { __builtin_memcpy(p, &v, sizeof v); }

inline V splat(float x) { return V{} + x; }

// body() in an OpenMP parallel region of `threads` threads (0: the team size OpenMP would take),
// or called directly where that is one thread and no region is active: the `omp for` loops in
// body then run all their iterations in the calling thread, as in a region of one. A region of
// one thread (libgomp's team and its closing barrier) took 2.2 us against 0.01 for the call in a
// loop on a 2-core Zen 5 VM, and with a region per own step MobileNetV2 and B0 with 1 thread
// measured 2-4% slower than with the call (in one process; bench/PERFORMANCE_NOTES.md,
// eighteenth sitting).
template <class F>
inline void parallel_region(int threads, const F& body) {
  if ((threads == 1 || (threads == 0 && omp_get_max_threads() == 1)) && !omp_in_parallel()) {
    body();
    return;
  }
  if (threads > 0) {
#pragma omp parallel num_threads(threads)
    body();
  } else {
#pragma omp parallel
    body();
  }
}

// Pins v to a register at this point: GCC otherwise folds a load used by several FMAs back into
// each of them as a memory operand (one load per FMA), which is what the load-once code avoids.
inline void in_register(V& v) {
#if defined(__AVX__)
  asm("" : "+v"(v));
#else
  (void)v;
#endif
}

inline void store_block_zero(float* p, int block) {
  for (int j = 0; j < block; j += W) store(p + j, splat(0.0f));
}

// One vmaxps / vminps where there is one (GCC turns a comparison and select into two operations;
// the maskz forms, as below, because the plain ones start from an "undefined" vector GCC warns of).
inline V vmax(V a, V b) {
#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
  return reinterpret_cast<V>(_mm512_maskz_max_ps(0xFFFF, reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b)));
#elif EFFSCALE_VECTOR_WIDTH == 8 && defined(__AVX__)
  return reinterpret_cast<V>(_mm256_max_ps(reinterpret_cast<__m256>(a), reinterpret_cast<__m256>(b)));
#else
  return a > b ? a : b;
#endif
}

inline V vmin(V a, V b) {
#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
  return reinterpret_cast<V>(_mm512_maskz_min_ps(0xFFFF, reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b)));
#elif EFFSCALE_VECTOR_WIDTH == 8 && defined(__AVX__)
  return reinterpret_cast<V>(_mm256_min_ps(reinterpret_cast<__m256>(a), reinterpret_cast<__m256>(b)));
#else
  return a < b ? a : b;
#endif
}

// 1 / x: the hardware estimate and one Newton step where there is one (relative error about
// 1e-7 either way), a division otherwise.
inline V reciprocal(V x) {
#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
  const V r = reinterpret_cast<V>(_mm512_maskz_rcp14_ps(0xFFFF, reinterpret_cast<__m512>(x)));
  return r * (2.0f - x * r);
#elif EFFSCALE_VECTOR_WIDTH == 8 && defined(__AVX__)
  const V r = reinterpret_cast<V>(_mm256_rcp_ps(reinterpret_cast<__m256>(x)));
  return r * (2.0f - x * r);
#else
  return 1.0f / x;
#endif
}

// 1 + e^-x, with e^-x = 2^n x 2^f: x clamped to [-87, 87] (e^-x stays a normal float: denormals
// cost a microcode assist, which made the depthwise steps of deep networks, whose activations
// grow, 5-34% slower), n = round(-x log2 e), f = -x log2 e - n (in [-1/2, 1/2]; the rounding of
// -x log2 e moves e^-x by |x| x 6e-8 relative, which matters only where the sigmoid saturates),
// 2^f by a degree-4 polynomial fitted to the relative error on [-1/2, 1/2] (2.7e-6 in float
// arithmetic). AVX-512 rounds with vrndscaleps and scales by 2^n with vscalefps; the other paths
// round by adding 1.5 x 2^23 + 127 in the FMA that scales x, which leaves n + 127 in the low
// mantissa bits, and shift those into the exponent. The fewest vector operations is the point:
// the swish is a large share of a depthwise step's work.
inline V sigmoid_denominator(V x) {
  constexpr float kMinusLog2e = -1.44269502f;
  const V c = vmin(vmax(x, splat(-87.0f)), splat(87.0f));
#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
  const V t = c * kMinusLog2e;
  const V n = reinterpret_cast<V>(
      _mm512_maskz_roundscale_ps(0xFFFF, reinterpret_cast<__m512>(t), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const V f = t - n;
#else
  constexpr float kShift = 12582912.0f + 127.0f;
  const V shifted = c * kMinusLog2e + kShift;
  const V n = shifted - kShift;
  const V f = c * kMinusLog2e - n;
#endif
  V p = splat(9.57009755e-3f);
  p = p * f + 5.59178703e-2f;
  p = p * f + 2.40247443e-1f;
  p = p * f + 6.93121791e-1f;
  p = p * f + 9.99999285e-1f;
#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
  return 1.0f + reinterpret_cast<V>(
                    _mm512_maskz_scalef_ps(0xFFFF, reinterpret_cast<__m512>(p), reinterpret_cast<__m512>(n)));
#else
  VU bits;
  __builtin_memcpy(&bits, &shifted, sizeof bits);
  bits = bits << 23;  // the low 9 bits hold n + 127 (1..254)
  V scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return p * scale + 1.0f;
#endif
}

inline V sigmoid(V x) { return reciprocal(sigmoid_denominator(x)); }

// x / (1 + e^-x). AVX-512: x times the reciprocal (estimate and Newton step), as measured on the
// AVX-512 machines. AVX2 and portable: one division, which leaves the FMA units to the
// convolution (the estimate, the Newton step and the product were four operations on them):
// on a Zen 3 core the depthwise steps 3-13% faster, the fused expansion + depthwise steps 6-13%
// and the 1x1 convs 1-3% (bench/PERFORMANCE_NOTES.md, seventh sitting).
inline V swish(V x) {
#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
  return x * sigmoid(x);
#else
  return x / sigmoid_denominator(x);
#endif
}

template <Activation A>
inline V activate(V x) {
  if constexpr (A == Activation::kRelu) return vmax(x, splat(0.0f));
  if constexpr (A == Activation::kRelu6) return vmin(vmax(x, splat(0.0f)), splat(6.0f));
  if constexpr (A == Activation::kSwish) return swish(x);
  if constexpr (A == Activation::kSigmoid) return sigmoid(x);
  return x;
}

// Compile-time activation and (kernel, stride) for the templates below, chosen once per call.
template <Activation A>
struct ActivationTag {
  static constexpr Activation value = A;
};

template <class F>
inline decltype(auto) with_activation(Activation a, const F& f) {
  switch (a) {
    case Activation::kRelu: return f(ActivationTag<Activation::kRelu>{});
    case Activation::kRelu6: return f(ActivationTag<Activation::kRelu6>{});
    case Activation::kSwish: return f(ActivationTag<Activation::kSwish>{});
    case Activation::kSigmoid: return f(ActivationTag<Activation::kSigmoid>{});
    case Activation::kNone: break;
  }
  return f(ActivationTag<Activation::kNone>{});
}

template <int K, int S>
struct GeometryTag {
  static constexpr int kernel = K, stride = S;
};

// EfficientNet's and MobileNetV2's depthwise geometries unrolled; any other (0, 0): read from the shape.
template <class F>
inline decltype(auto) with_geometry(int kernel, int stride, const F& f) {
  if (kernel == 3 && stride == 1) return f(GeometryTag<3, 1>{});
  if (kernel == 3 && stride == 2) return f(GeometryTag<3, 2>{});
  if (kernel == 5 && stride == 1) return f(GeometryTag<5, 1>{});
  if (kernel == 5 && stride == 2) return f(GeometryTag<5, 2>{});
  return f(GeometryTag<0, 0>{});
}

inline int imin(int a, int b) { return a < b ? a : b; }
inline int imax(int a, int b) { return a > b ? a : b; }

// What a zero-padded copy of an input row holds, pw columns from input column -pad_left on: `lead`
// zero columns, the row's first `columns` pixels, then zeros to pw. A row outside the image
// (inside false) is all zeros.
struct PaddedSpan {
  int lead, columns;
};

inline PaddedSpan padded_span(bool inside, int pad_left, int in_w, int pw) {
  const int lead = inside ? pad_left : pw;
  return {lead, inside ? imax(0, imin(in_w, pw - lead)) : 0};
}

// Output pixels a group of the depthwise kernels convolves at once: each pixel's taps are a chain
// of dependent FMAs (4 cycles apiece), so the group's independent chains are what keeps the FMA
// units busy: two FMA units need 8 chains in flight. 8 with AVX-512 and with AVX2 (whose 16
// registers hold 8 accumulators, the weight and the input; the sigmoid's constants come from
// memory): on a Zen3 core with AVX2, B4's 24x24 5x5 depthwise steps took 0.84 ms with groups of 4
// and 0.63 with 8, and the whole network 1 thread 1-3% less (bench/PERFORMANCE_NOTES.md, sixth
// sitting). 4 on the portable path (4-float vectors without FMA; 8 not measured there).
constexpr int kGroup = W >= 8 ? 8 : 4;

template <int N>
struct Count {
  static constexpr int value = N;
};

// The end of a depthwise group of P pixels: the accumulators activated, stored to out (B floats
// apart) and added to sum, in pixel order.
template <Activation A, int P>
inline void finish_group(V (&a)[P], float* out, int B, V& sum) {
#pragma GCC unroll 8
  for (int j = 0; j < P; ++j) {
    a[j] = activate<A>(a[j]);
    store(out + static_cast<std::ptrdiff_t>(j) * B, a[j]);
    sum += a[j];
  }
}

// P consecutive output pixels of one vector of channels: row(kh) points at the first pixel the
// group reads in input row kh (pixels `ps` floats apart), for kh in [kh_lo, kh_hi); w at the
// vector's weights of tap (0, 0) (taps `B` floats apart). The activated outputs are stored to out
// (B floats apart) and added to sum, in pixel order.
template <Activation A, int P, class Row>
inline void convolve_group(const Row& row, int kh_lo, int kh_hi, int k, int st, std::ptrdiff_t ps, const float* w,
                           int B, V b, float* out, V& sum) {
  V a[P];
#pragma GCC unroll 8
  for (int j = 0; j < P; ++j) a[j] = b;
  for (int kh = kh_lo; kh < kh_hi; ++kh) {
    const float* p = row(kh);
    const float* wr = w + kh * k * B;
    for (int kw = 0; kw < k; ++kw) {
      const V wv = load(wr + kw * B);
#pragma GCC unroll 8
      for (int j = 0; j < P; ++j) a[j] += load(p + (j * st + kw) * ps) * wv;
    }
  }
  finish_group<A, P>(a, out, B, sum);
}

// convolve_group with the kernel (K x K) and stride S known at compile time and the pixels W
// floats apart: each input vector a kernel row of the group reads is loaded once into a register
// and serves every tap that reads it ((P - 1) * S + K loads per kernel row instead of P * K).
// convolve_group's memory operands (one load per FMA) left the depthwise steps bound by the loads
// (two 512-bit loads a cycle on a Zen 5 core, one per FMA plus the weights); perf annotate showed
// GCC reloading the same input for each of the K taps that read it.
template <Activation A, int P, int K, int S, class Row>
inline void convolve_group_cached(const Row& row, int kh_lo, int kh_hi, const float* w, int B, V b, float* out,
                                  V& sum) {
  constexpr int N = (P - 1) * S + K;
  V a[P];
#pragma GCC unroll 8
  for (int j = 0; j < P; ++j) a[j] = b;
  for (int kh = kh_lo; kh < kh_hi; ++kh) {
    const float* p = row(kh);
    const float* wr = w + kh * K * B;
    V x[N];
#pragma GCC unroll 32
    for (int i = 0; i < N; ++i) {
      x[i] = load(p + i * W);
      in_register(x[i]);
    }
#pragma GCC unroll 8
    for (int kw = 0; kw < K; ++kw) {
      const V wv = load(wr + kw * B);
#pragma GCC unroll 8
      for (int j = 0; j < P; ++j) a[j] += x[j * S + kw] * wv;
    }
  }
  finish_group<A, P>(a, out, B, sum);
}

// Whether convolve_group_cached takes a group of P pixels: stride 1, and its accumulators, inputs
// and weight fit in the registers with two to spare (32 with AVX-512; 16 otherwise). With stride
// 2 too (3x3: 17 loads instead of 24 for 8 pixels), the strided fused steps of B0 and MobileNetV2
// measured 1.02-1.08 of their time before (per-block profiles, 1 thread; bench/PERFORMANCE_NOTES.md,
// seventeenth sitting).
template <int P, int K, int S>
constexpr bool cached_fits() {
  return K > 0 && S == 1 && P + (P - 1) * S + K + 1 <= (W == 16 ? 30 : 14);
}

// Output pixels [0, count) of one output row in groups of kGroup, then one group of the pixels
// left (sizes known at compile time: no branch per pixel, so the sigmoids of a group interleave).
// With groups of 8, 5-7 pixels left are one group (Tails), not 4 and 1-3: a group's pixels are
// its independent chains of FMAs, and 4 and 3 chains leave two FMA units idle half the time; the
// 14x14 and 7x7 depthwise steps of B0 measured 9-17% faster (bench/PERFORMANCE_NOTES.md, eighth
// sitting). Rows without such a tail take the code without those sizes (convolve_row_any): with
// them, B4's 12x12 steps measured 5% slower, though their groups (8 + 4) were the same.
// row(kh) points at the first pixel output pixel 0 reads in input row kh.
// K, S: the kernel and stride known at compile time (0: not); with both, and ps == W, the groups
// that fit take convolve_group_cached.
template <Activation A, bool Tails, int K, int S, class Row>
inline void convolve_row(const Row& row, int kh_lo, int kh_hi, int k, int st, std::ptrdiff_t ps, const float* w,
                         int B, V b, float* out, int count, V& sum) {
  int ow = 0;
  const bool cached = ps == W;
  V local = sum;  // in a register (sum may be memory behind a reference: a chain through the stores)
  auto group = [&](auto size) {
    constexpr int P = decltype(size)::value;
    const std::ptrdiff_t shift = static_cast<std::ptrdiff_t>(ow) * st * ps;
    auto at = [&](int kh) { return row(kh) + shift; };
    float* o = out + static_cast<std::ptrdiff_t>(ow) * B;
    if constexpr (cached_fits<P, K, S>()) {
      if (cached) {
        convolve_group_cached<A, P, K, S>(at, kh_lo, kh_hi, w, B, b, o, local);
        ow += P;
        return;
      }
    }
    convolve_group<A, P>(at, kh_lo, kh_hi, k, st, ps, w, B, b, o, local);
    ow += P;
  };
  [&] {
    while (ow + kGroup <= count) group(Count<kGroup>{});
    if constexpr (Tails && kGroup >= 8) {
      switch (count - ow) {
        case 7: group(Count<7>{}); return;
        case 6: group(Count<6>{}); return;
        case 5: group(Count<5>{}); return;
        default: break;
      }
    }
    while (ow + 4 <= count) group(Count<4>{});
    switch (count - ow) {
      case 3: group(Count<3>{}); break;
      case 2: group(Count<2>{}); break;
      case 1: group(Count<1>{}); break;
      default: break;
    }
  }();
  sum = local;
}

// convolve_row, with the 5-7 pixel tail group only where the row has one.
template <Activation A, int K = 0, int S = 0, class Row>
inline void convolve_row_any(const Row& row, int kh_lo, int kh_hi, int k, int st, std::ptrdiff_t ps, const float* w,
                             int B, V b, float* out, int count, V& sum) {
  if (kGroup >= 8 && count % kGroup >= 5) {
    convolve_row<A, true, K, S>(row, kh_lo, kh_hi, k, st, ps, w, B, b, out, count, sum);
  } else {
    convolve_row<A, false, K, S>(row, kh_lo, kh_hi, k, st, ps, w, B, b, out, count, sum);
  }
}

// Output rows [oh_begin, oh_end) of one image's one channel block. K, S: kernel and stride known
// at compile time (0: read from the shape). Adds the rows' activated outputs to sums[0, block).
template <int K, int S, Activation A>
void depthwise_rows(const DepthwiseShape& s, const float* src, const float* w, const float* bias, float* dst,
                    int oh_begin, int oh_end, float* sums) {
  const int B = s.block, k = K ? K : s.kernel, st = S ? S : s.stride;
  const int in_h = s.in_h, in_w = s.in_w, out_w = s.out_w;
  const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(in_w) * B;
  // Output columns whose taps all fall inside the row.
  const int ow_lo = imin((s.pad_left + st - 1) / st, out_w);
  const int last = in_w - k + s.pad_left;
  const int ow_hi = last < 0 ? ow_lo : imin(imax(last / st + 1, ow_lo), out_w);
  for (int v = 0; v < B; v += W) {
    const V b = load(bias + v);
    V sum = splat(0.0f);
    for (int oh = oh_begin; oh < oh_end; ++oh) {
      const int ih0 = oh * st - s.pad_top;
      const int kh_lo = ih0 < 0 ? -ih0 : 0;
      const int kh_hi = ih0 + k > in_h ? in_h - ih0 : k;
      const std::ptrdiff_t in = ih0 * row + v;  // offset of row ih0 (maybe negative: only rows kh_lo..kh_hi are read)
      float* out = dst + static_cast<std::ptrdiff_t>(oh) * out_w * B + v;
      auto edge = [&](int ow) {
        const int iw0 = ow * st - s.pad_left;
        const int kw_lo = iw0 < 0 ? -iw0 : 0;
        const int kw_hi = iw0 + k > in_w ? in_w - iw0 : k;
        V a = b;
        for (int kh = kh_lo; kh < kh_hi; ++kh) {
          const float* p = src + (in + kh * row + static_cast<std::ptrdiff_t>(iw0 + kw_lo) * B);
          const float* wr = w + (kh * k + kw_lo) * B + v;
          for (int kw = 0; kw < kw_hi - kw_lo; ++kw) a += load(p + kw * B) * load(wr + kw * B);
        }
        a = activate<A>(a);
        store(out + static_cast<std::ptrdiff_t>(ow) * B, a);
        sum += a;
      };
      int ow = 0;
      for (; ow < ow_lo; ++ow) edge(ow);
      // Interior pixels (every tap inside the row).
      const std::ptrdiff_t p0 = in + static_cast<std::ptrdiff_t>(ow_lo * st - s.pad_left) * B;
      convolve_row_any<A, K, S>([&](int kh) { return src + (p0 + kh * row); }, kh_lo, kh_hi, k, st, B, w + v, B, b,
                          out + static_cast<std::ptrdiff_t>(ow_lo) * B, ow_hi - ow_lo, sum);
      ow = ow_hi;
      for (; ow < out_w; ++ow) edge(ow);
    }
    store(sums + v, load(sums + v) + sum);
  }
}

// Floats of the zero-padded input copy that small feature maps are convolved from (on the stack),
// and the widest output row convolved that way, for the 5x5 and larger kernels that
// depthwise_rows_edges does not take (strided ones). Measured in B4 and MobileNetV2 (per-layer
// profiles, 2 threads): 48x48 and 24x24 k5 15-25% faster than the unpadded path; 24x24 and 28x28
// k3 10-25% slower (two edge pixels a row cost less than the copy). On a Zen 3 core the strided
// 3x3 steps on maps up to 16 wide, which it took before, measured 23-35% faster without the copy
// (14 -> 7 x 576, 28 -> 14 x 144; bench/PERFORMANCE_NOTES.md, eleventh sitting).
constexpr int kPaddedFloats = 8192;
constexpr int kPaddedMaxWidth = 64;

// Output rows [oh_begin, oh_end) of vector slice v from buf [rows][pw][W], a zero-padded copy of
// the input whose row 0 is input row oh_begin * stride - pad_top and column 0 input column
// -pad_left: every output pixel takes the unrolled path, in groups of four, without bounds checks.
template <int K, int S, Activation A>
void convolve_padded(const DepthwiseShape& s, const float* buf, int pw, const float* w, float* dst, int v,
                     int oh_begin, int oh_end, V b, V& sum) {
  const int B = s.block, k = K ? K : s.kernel, st = S ? S : s.stride;
  for (int oh = oh_begin; oh < oh_end; ++oh) {
    const float* base = buf + static_cast<std::ptrdiff_t>(oh - oh_begin) * st * pw * W;
    float* out = dst + static_cast<std::ptrdiff_t>(oh) * s.out_w * B + v;
    convolve_row_any<A, K, S>([&](int kh) { return base + static_cast<std::ptrdiff_t>(kh) * pw * W; }, 0, k, k, st, W,
                        w + v, B, b, out, s.out_w, sum);
  }
}

// Narrow feature maps (kPaddedMaxWidth: where the border pixels, which
// take the slow edge path of depthwise_rows, are a large share): the band's input rows are copied,
// one vector of channels and as many rows as fit in kPaddedFloats at a time, into a zero-padded
// buffer and convolved from there. False (nothing done) when not even one output row's input rows
// fit.
template <int K, int S, Activation A>
bool depthwise_rows_padded(const DepthwiseShape& s, const float* src, const float* w, const float* bias, float* dst,
                           int oh_begin, int oh_end, float* sums) {
  const int B = s.block, k = K ? K : s.kernel, st = S ? S : s.stride;
  const int pw = padded_width(s);
  const int fit = kPaddedFloats / (pw * W);  // input rows the buffer holds
  if (fit < k) return false;
  const int step = (fit - k) / st + 1;  // output rows per pass
  alignas(64) float buf[kPaddedFloats];
  for (int v = 0; v < B; v += W) {
    V sum = splat(0.0f);
    for (int o0 = oh_begin; o0 < oh_end; o0 += step) {
      const int o1 = imin(o0 + step, oh_end);
      const int rows = (o1 - o0 - 1) * st + k;
      const int ih_begin = o0 * st - s.pad_top;
      for (int r = 0; r < rows; ++r) {
        const int ih = ih_begin + r;
        float* br = buf + static_cast<std::ptrdiff_t>(r) * pw * W;
        const bool inside = ih >= 0 && ih < s.in_h;
        const auto [lead, columns] = padded_span(inside, s.pad_left, s.in_w, pw);
        for (int x = 0; x < lead; ++x) store(br + x * W, splat(0.0f));
        if (inside) {
          const float* sr = src + (static_cast<std::ptrdiff_t>(ih) * s.in_w * B + v);
          for (int x = 0; x < columns; ++x) store(br + (lead + x) * W, load(sr + static_cast<std::ptrdiff_t>(x) * B));
        }
        for (int x = lead + columns; x < pw; ++x) store(br + x * W, splat(0.0f));
      }
      convolve_padded<K, S, A>(s, buf, pw, w, dst, v, o0, o1, load(bias + v), sum);
    }
    store(sums + v, load(sums + v) + sum);
  }
  return true;
}

// f(Count<n>{}) for n in [1, N] (N <= 8): a group size known at compile time, chosen at run time.
template <int N, class F>
inline void with_count(int n, const F& f) {
  static_assert(N >= 1 && N <= 8, "group sizes 1 to 8");
  switch (n) {
    case 1: f(Count<1>{}); break;
    case 2: if constexpr (N >= 2) f(Count<2>{}); break;
    case 3: if constexpr (N >= 3) f(Count<3>{}); break;
    case 4: if constexpr (N >= 4) f(Count<4>{}); break;
    case 5: if constexpr (N >= 5) f(Count<5>{}); break;
    case 6: if constexpr (N >= 6) f(Count<6>{}); break;
    case 7: if constexpr (N >= 7) f(Count<7>{}); break;
    case 8: if constexpr (N >= 8) f(Count<8>{}); break;
    default: break;
  }
}

// convolve_group for a K x K kernel, stride 1 and (K - 1) / 2 columns of padding on either side,
// straight from the unpadded input: row(kh) points at the group's first pixel in input row kh
// (pixels B floats apart). Left: the group starts the row, and its first pixels leave out the
// taps left of it; Right: it ends the row, and its last pixels leave out the taps right of it.
// Which taps are left out is known at compile time: no branch, no zeros, no copy. Not a mode of
// convolve_group: dropping the taps needs the kernel columns unrolled at compile time, and
// changes to the code GCC makes for convolve_group's groups have moved every other depthwise step
// by 5-14% before (bench/PERFORMANCE_NOTES.md, eighth and ninth sittings).
template <Activation A, int K, int P, bool Left, bool Right, class Row>
inline void convolve_group_edges(const Row& row, int kh_lo, int kh_hi, const float* w, int B, V b, float* out,
                                 V& sum) {
  constexpr int pad = (K - 1) / 2;
  V a[P];
#pragma GCC unroll 8
  for (int j = 0; j < P; ++j) a[j] = b;
  // Where the registers hold them (cached_fits), each input vector of a kernel row is loaded once
  // (convolve_group_cached): x[i] is pixel i - pad.
  constexpr int N = P + 2 * pad;
  constexpr bool cache = cached_fits<P, K, 1>();
  for (int kh = kh_lo; kh < kh_hi; ++kh) {
    const float* p = row(kh);
    const float* wr = w + kh * K * B;
    auto input = [&](int i) { return load(p + static_cast<std::ptrdiff_t>(i - pad) * B); };
    V x[cache ? N : 1];
    if constexpr (cache) {
#pragma GCC unroll 16
      for (int i = 0; i < N; ++i) {
        if ((Left && i < pad) || (Right && i > P - 1 + pad)) continue;  // outside the row
        x[i] = input(i);
        in_register(x[i]);
      }
    }
#pragma GCC unroll 8
    for (int kw = 0; kw < K; ++kw) {
      const V wv = load(wr + kw * B);
#pragma GCC unroll 8
      for (int j = 0; j < P; ++j) {
        if ((Left && j + kw < pad) || (Right && j + kw > P - 1 + pad)) continue;  // outside the row
        if constexpr (cache) {
          a[j] += x[j + kw] * wv;
        } else {
          a[j] += input(j + kw) * wv;
        }
      }
    }
  }
  finish_group<A, P>(a, out, B, sum);
}

// Whether depthwise_rows_edges takes the shape: stride 1 with K x K kernels padded by (K - 1) / 2
// on either side (TensorFlow SAME and PyTorch alike), rows of at most kEdgesMaxWidth pixels.
constexpr int kEdgesMaxWidth = 64;

template <int K, int S>
inline bool edges_fit(const DepthwiseShape& s) {
  return (K == 3 || K == 5) && S == 1 && s.pad_left == (K - 1) / 2 && s.in_w == s.out_w && s.in_h == s.out_h &&
         s.out_w <= kEdgesMaxWidth;
}

// Output rows [oh_begin, oh_end) of one image's one channel block of a stride-1 map (edges_fit),
// read straight from the input: each row in groups of kGroup pixels, the first leaving out the
// taps left of the row, the last (1 to kGroup pixels, at least the padding: the one before it
// gives up pixels when needed) those right of it; a row of at most kGroup pixels is one group
// with both. Before, rows up to 16 pixels (64 with 5x5 kernels) were convolved from a zero-padded
// copy (depthwise_rows_padded), which took 35-50% of their time, and wider ones took a slow path
// for each border pixel (bench/PERFORMANCE_NOTES.md, tenth and eleventh sittings).
template <int K, Activation A>
void depthwise_rows_edges(const DepthwiseShape& s, const float* src, const float* w, const float* bias, float* dst,
                          int oh_begin, int oh_end, float* sums) {
  constexpr int pad = (K - 1) / 2;
  const int B = s.block, in_h = s.in_h, width = s.out_w;
  const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(width) * B;
  // Groups: [0, first) with the left edge, full groups up to last_begin (the one before the last
  // group kGroup - 1 wide when `shrink`), and [last_begin, width) with the right edge.
  const int groups = (width + kGroup - 1) / kGroup;
  const int rest = width - (groups - 1) * kGroup;
  const int last = groups == 1 ? width : imax(rest, pad);
  const bool shrink = groups > 1 && rest < pad;  // pad - rest is 1 (5x5: pad 2, rest 1)
  const int last_begin = width - last;
  for (int v = 0; v < B; v += W) {
    const V b = load(bias + v);
    V sum = splat(0.0f);
    for (int oh = oh_begin; oh < oh_end; ++oh) {
      const int ih0 = oh - s.pad_top;
      const int kh_lo = ih0 < 0 ? -ih0 : 0;
      const int kh_hi = ih0 + K > in_h ? in_h - ih0 : K;
      const std::ptrdiff_t in = ih0 * row + v;  // offset of row ih0 (maybe negative: only rows kh_lo..kh_hi are read)
      float* out = dst + static_cast<std::ptrdiff_t>(oh) * row + v;
      auto at = [&](int ow0) {
        return [&, ow0](int kh) { return src + (in + kh * row + static_cast<std::ptrdiff_t>(ow0) * B); };
      };
      if (groups == 1) {
        with_count<kGroup>(width, [&](auto size) {
          convolve_group_edges<A, K, decltype(size)::value, true, true>(at(0), kh_lo, kh_hi, w + v, B, b, out, sum);
        });
        continue;
      }
      int ow = 0;
      if (shrink && last_begin == kGroup - 1) {
        convolve_group_edges<A, K, kGroup - 1, true, false>(at(0), kh_lo, kh_hi, w + v, B, b, out, sum);
        ow = kGroup - 1;
      } else {
        convolve_group_edges<A, K, kGroup, true, false>(at(0), kh_lo, kh_hi, w + v, B, b, out, sum);
        ow = kGroup;
      }
      for (; ow + kGroup <= last_begin; ow += kGroup)
        convolve_group_edges<A, K, kGroup, false, false>(at(ow), kh_lo, kh_hi, w + v, B, b,
                                                         out + static_cast<std::ptrdiff_t>(ow) * B, sum);
      if (ow < last_begin) {  // the shrunk group
        convolve_group_edges<A, K, kGroup - 1, false, false>(at(ow), kh_lo, kh_hi, w + v, B, b,
                                                             out + static_cast<std::ptrdiff_t>(ow) * B, sum);
      }
      with_count<kGroup>(last, [&](auto size) {
        convolve_group_edges<A, K, decltype(size)::value, false, true>(at(last_begin), kh_lo, kh_hi, w + v, B, b,
                                                                       out + static_cast<std::ptrdiff_t>(last_begin) * B, sum);
      });
    }
    store(sums + v, load(sums + v) + sum);
  }
}

void depthwise_band(const DepthwiseShape& s, const float* src, const float* w, const float* bias, float* dst,
                    int oh_begin, int oh_end, float* sums) {
  with_activation(s.activation, [&](auto act) {
    with_geometry(s.kernel, s.stride, [&](auto g) {
      constexpr Activation A = decltype(act)::value;
      constexpr int K = decltype(g)::kernel, S = decltype(g)::stride;
      if constexpr ((K == 3 || K == 5) && S == 1) {
        if (edges_fit<K, S>(s)) return depthwise_rows_edges<K, A>(s, src, w, bias, dst, oh_begin, oh_end, sums);
      }
      const bool padded = s.kernel >= 5 && s.out_w <= kPaddedMaxWidth;
      if (padded && depthwise_rows_padded<K, S, A>(s, src, w, bias, dst, oh_begin, oh_end, sums)) return;
      depthwise_rows<K, S, A>(s, src, w, bias, dst, oh_begin, oh_end, sums);
    });
  });
}

// Inside a parallel region, after every image's channel sums are in sums [batch][padded]: the
// reduce FC one squeezed channel per iteration, the expand FC and the sigmoid one vector of
// channels.
inline void se_gate(const DepthwiseShape& s, const SeShape& se, const SeWeights& sw, const float* sums,
                    float* squeezed, float* gate) {
  const int sq = se.squeezed, padded = se.padded;
#pragma omp for schedule(static)
  for (int i = 0; i < s.batch * sq; ++i) {
    const int n = i / sq, j = i % sq;
    const float* x = sums + static_cast<std::ptrdiff_t>(n) * padded;
    const float* wr = sw.reduce + static_cast<std::ptrdiff_t>(j) * padded;
    // Four accumulators: one FMA chain would wait out each FMA's latency.
    V part[4] = {splat(0.0f), splat(0.0f), splat(0.0f), splat(0.0f)};
    int c = 0;
    for (; c + 4 * W <= padded; c += 4 * W)
      for (int u = 0; u < 4; ++u) part[u] += load(wr + c + u * W) * load(x + c + u * W);
    for (; c < padded; c += W) part[0] += load(wr + c) * load(x + c);
    const V acc = (part[0] + part[1]) + (part[2] + part[3]);
    float dot = 0;
    for (int lane = 0; lane < W; ++lane) dot += acc[lane];
    const V y = splat(sw.reduce_bias[j] + dot * se.inv_area);
    squeezed[i] = with_activation(se.activation, [&](auto act) { return activate<decltype(act)::value>(y); })[0];
  }
  const int chunks = padded / W;
#pragma omp for schedule(static)
  for (int i = 0; i < s.batch * chunks; ++i) {
    const int n = i / chunks, c = i % chunks * W;
    const float* q = squeezed + static_cast<std::ptrdiff_t>(n) * sq;
    V part[4] = {load(sw.expand_bias + c), splat(0.0f), splat(0.0f), splat(0.0f)};
    int j = 0;
    for (; j + 4 <= sq; j += 4)
      for (int u = 0; u < 4; ++u)
        part[u] += load(sw.expand_t + static_cast<std::ptrdiff_t>(j + u) * padded + c) * q[j + u];
    for (; j < sq; ++j) part[0] += load(sw.expand_t + static_cast<std::ptrdiff_t>(j) * padded + c) * q[j];
    V g = activate<Activation::kSigmoid>((part[0] + part[1]) + (part[2] + part[3]));
    for (int lane = 0; lane < W; ++lane)
      if (c + lane >= se.channels) g[lane] = 0;
    store(gate + static_cast<std::ptrdiff_t>(n) * padded + c, g);
  }
}

// The depthwise bands, in one parallel region with the SE path when `se` is set: the bands'
// channel sums are added up per image in band order, the same for any thread count.
// band(plane, oh_begin, oh_end, sums) computes one work item.
template <class Band>
void bands_then_se(const DepthwiseShape& s, int bands, const Band& band_fn, float* partial, const SeShape* se,
                   const SeWeights* sw, float* sums, float* squeezed, float* gate) {
  const int planes = s.batch * s.blocks;
  const int items = planes * bands;
  parallel_region(0, [&] {
#pragma omp for schedule(static)
    for (int item = 0; item < items; ++item) {
      const int plane = item / bands, band = item % bands;
      float* part = partial + static_cast<std::ptrdiff_t>(item) * s.block;
      for (int j = 0; j < s.block; ++j) part[j] = 0;
      const int oh_begin = static_cast<int>(static_cast<std::int64_t>(s.out_h) * band / bands);
      const int oh_end = static_cast<int>(static_cast<std::int64_t>(s.out_h) * (band + 1) / bands);
      band_fn(plane, oh_begin, oh_end, part);
    }
    if (se) {
#pragma omp for schedule(static)
      for (int plane = 0; plane < planes; ++plane) {
        float* out = sums + static_cast<std::ptrdiff_t>(plane) * s.block;  // [n][cb][block] = [n][c]
        for (int j = 0; j < s.block; ++j) out[j] = 0;
        for (int band = 0; band < bands; ++band) {
          const float* part = partial + static_cast<std::ptrdiff_t>(plane * bands + band) * s.block;
          for (int j = 0; j < s.block; ++j) out[j] += part[j];
        }
      }
      se_gate(s, *se, *sw, sums, squeezed, gate);
    }
  });
}

// The register tile of the matrix products (the fused expansion, the own pointwise conv, the
// stem): kPixels pixels x kVectors vectors of output channels (24 accumulators of 32 registers
// with AVX-512, 12 of 16 otherwise). Each weight vector loaded serves kPixels FMAs and each input
// value broadcast serves kVectors.
constexpr int kPixels = W == 16 ? 8 : 4;
constexpr int kVectors = kPanelVectors;

// A register tile's accumulators: output vectors [j0, j0 + N) of P pixels from the bias, plus the
// residual res (laid out as the output: blocks out_plane apart, pixels B floats apart) when R.
template <int P, int N, bool R>
inline void start_tile(V (&acc)[P][N], const float* bias, int j0, int B, const float* res, std::ptrdiff_t out_plane) {
#pragma GCC unroll 8
  for (int o = 0; o < N; ++o) {
    const V b = load(bias + (j0 + o) * W);
    const int v = (j0 + o) * W;
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      if constexpr (R) {
        acc[p][o] = b + load(res + (v / B) * out_plane + v % B + p * B);
      } else {
        acc[p][o] = b;
      }
    }
  }
}

// A register tile's accumulators activated and stored to out (the tile's first pixel in channel
// block 0: pixels B floats apart, blocks out_plane apart).
template <int P, int N, Activation EA>
inline void finish_tile(V (&acc)[P][N], int j0, int B, float* out, std::ptrdiff_t out_plane) {
#pragma GCC unroll 8
  for (int o = 0; o < N; ++o) {
    const int v = (j0 + o) * W;
    float* op = out + (v / B) * out_plane + v % B;
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) store(op + p * B, activate<EA>(acc[p][o]));
  }
}

// P pixels x output vectors [j0, j0 + O) of a product over inputs: taps(f) calls f(x) for each
// input in order, x pointing at the first pixel's value of that input (pixels pixel_stride floats
// apart); w is the vectors' panel (pack_panels: each input's O vectors of weights, one after the
// other); out points at the first pixel in channel block 0 (pixels B floats apart, blocks
// out_plane apart). out = activation(bias + sum). PS: the pixel stride known at compile time (0:
// not), so that the offsets are immediates, not registers. O2 > 0: the tile also takes the O2
// vectors after them, from the next panel w2 (a panel of O2 vectors). R: res (laid out as out, at
// the same offsets) is added to bias + sum before the activation, as oneDNN's sum post-op.
template <int P, int O, Activation EA, int PS, int O2 = 0, bool R = false, class Taps>
inline void product_tile(const Taps& taps, std::ptrdiff_t pixel_stride, const float* w, const float* bias, int j0,
                         int B, float* out, std::ptrdiff_t out_plane, const float* w2 = nullptr,
                         const float* res = nullptr) {
  constexpr int N = O + O2;
  const std::ptrdiff_t ps = PS ? PS : pixel_stride;
  V acc[P][N];
  start_tile<P, N, R>(acc, bias, j0, B, res, out_plane);
  const float* wr = w;
  const float* wr2 = w2;
  taps([&](const float* x) {
    V wv[N];
#pragma GCC unroll 8
    for (int o = 0; o < O; ++o) wv[o] = load(wr + o * W);
#pragma GCC unroll 8
    for (int o = 0; o < O2; ++o) wv[O + o] = load(wr2 + o * W);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const float xv = x[p * ps];
#pragma GCC unroll 8
      for (int o = 0; o < N; ++o) acc[p][o] += wv[o] * xv;
    }
    wr += O * W;
    if constexpr (O2 > 0) wr2 += O2 * W;
  });
  finish_tile<P, N, EA>(acc, j0, B, out, out_plane);
}

#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
// Pairs of pixels for an output vector whose upper half is padding (24 or 40 channels in blocks
// of 16): lanes 0-7 hold one pixel's 8 real channels, lanes 8-15 the next pixel's, so that the
// padding costs no FMAs. (The maskz forms: the plain ones start from an "undefined" vector.)
inline V halves(V lo, V hi) {
  return reinterpret_cast<V>(_mm512_mask_blend_ps(0xFF00, reinterpret_cast<__m512>(lo), reinterpret_cast<__m512>(hi)));
}
// The 8 floats at p in both halves.
inline V dup_half(const float* p) {
  return reinterpret_cast<V>(_mm512_maskz_broadcast_f64x4(0xFF, _mm256_loadu_pd(reinterpret_cast<const double*>(p))));
}
// The lower halves of a (lanes 0-7) and b (lanes 8-15).
inline V lower_halves(V a, V b) {
  return reinterpret_cast<V>(
      _mm512_maskz_shuffle_f32x4(0xFFFF, reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b), 0x44));
}
// v's lower half, the upper zero.
inline V lower_half(V v) { return reinterpret_cast<V>(_mm512_maskz_mov_ps(0x00FF, reinterpret_cast<__m512>(v))); }
// v's upper half moved down, the upper zero.
inline V upper_half(V v) {
  return reinterpret_cast<V>(_mm512_maskz_shuffle_f32x4(0x00FF, reinterpret_cast<__m512>(v), reinterpret_cast<__m512>(v), 0xEE));
}

// product_tile for a panel of O + 1 vectors whose last has only padding in its upper half (B ==
// W): P (even) pixels x O vectors as product_tile, and the last vector's real lanes for pixels 2q
// and 2q + 1 in one accumulator (halves), its weights in both halves (dup_half). The same FMAs in
// the same order as product_tile<P, O + 1>, so the same bits; the padding lanes stored as zeros.
template <int P, int O, Activation EA, int PS, bool R, class Taps>
inline void product_tile_pairs(const Taps& taps, std::ptrdiff_t pixel_stride, const float* w, const float* bias,
                               int j0, int B, float* out, std::ptrdiff_t out_plane, const float* res) {
  static_assert(P % 2 == 0 && O >= 1, "pairs of pixels, and at least one whole vector to share the broadcasts");
  constexpr int Q = P / 2;
  const std::ptrdiff_t ps = PS ? PS : pixel_stride;
  V acc[P][O];
  V pair[Q];
  start_tile<P, O, R>(acc, bias, j0, B, res, out_plane);
  const int vh = (j0 + O) * W;
  const std::ptrdiff_t half_at = (vh / B) * out_plane;
  {
    const V b = dup_half(bias + vh);
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) {
      if constexpr (R) {
        pair[q] = b + lower_halves(load(res + half_at + 2 * q * B), load(res + half_at + (2 * q + 1) * B));
      } else {
        pair[q] = b;
      }
    }
  }
  const float* wr = w;
  taps([&](const float* x) {
    V wv[O];
#pragma GCC unroll 8
    for (int o = 0; o < O; ++o) wv[o] = load(wr + o * W);
    const V wh = dup_half(wr + O * W);
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) {
      const V x0 = reinterpret_cast<V>(_mm512_set1_ps(x[2 * q * ps]));
      const V x1 = reinterpret_cast<V>(_mm512_set1_ps(x[(2 * q + 1) * ps]));
#pragma GCC unroll 8
      for (int o = 0; o < O; ++o) {
        acc[2 * q][o] += wv[o] * x0;
        acc[2 * q + 1][o] += wv[o] * x1;
      }
      pair[q] += wh * halves(x0, x1);
    }
    wr += (O + 1) * W;
  });
  finish_tile<P, O, EA>(acc, j0, B, out, out_plane);
#pragma GCC unroll 8
  for (int q = 0; q < Q; ++q) {
    const V h = activate<EA>(pair[q]);
    store(out + half_at + 2 * q * B, lower_half(h));
    store(out + half_at + (2 * q + 1) * B, upper_half(h));
  }
}

// Pixels [0, columns) of a panel of O + 1 vectors whose last has only padding in its upper half:
// tiles of pairs (product_tile_pairs) of kPixels, 4 and 2 pixels, a last odd pixel as product_tile.
template <int O, Activation EA, int PS, bool R, class TapsAt>
inline void product_pair_columns(const TapsAt& taps_at, std::ptrdiff_t ps, const float* w, const float* bias, int j0,
                                 int B, int columns, float* out, std::ptrdiff_t out_plane, const float* res) {
  int x = 0;
  auto tile = [&](auto size) {
    constexpr int P = decltype(size)::value;
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(x) * B;
    product_tile_pairs<P, O, EA, PS, R>(taps_at(x), ps, w, bias, j0, B, out + at, out_plane, R ? res + at : nullptr);
    x += P;
  };
  while (x + kPixels <= columns) tile(Count<kPixels>{});
  if (x + 4 <= columns) tile(Count<4>{});
  if (x + 2 <= columns) tile(Count<2>{});
  if (x < columns) {
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(x) * B;
    product_tile<1, O + 1, EA, PS, 0, R>(taps_at(x), ps, w, bias, j0, B, out + at, out_plane, nullptr,
                                         R ? res + at : nullptr);
  }
}
#endif

// Output vectors [j0, j0 + O + O2) of pixels [0, columns) (w: their panel; w2: the next, of O2
// vectors, when O2 > 0): tiles of PX pixels, then 4, 2 and 1. taps_at(x) is the taps of pixel x
// (product_tile).
template <int O, Activation EA, int PS, int PX, int O2 = 0, bool R = false, class TapsAt>
inline void product_columns(const TapsAt& taps_at, std::ptrdiff_t ps, const float* w, const float* bias, int j0,
                            int B, int columns, float* out, std::ptrdiff_t out_plane, const float* w2 = nullptr,
                            const float* res = nullptr) {
  int x = 0;
  auto tile = [&](auto size) {
    constexpr int P = decltype(size)::value;
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(x) * B;
    product_tile<P, O, EA, PS, O2, R>(taps_at(x), ps, w, bias, j0, B, out + at, out_plane, w2, R ? res + at : nullptr);
    x += P;
  };
  while (x + PX <= columns) tile(Count<PX>{});
  if constexpr (PX > 4) {
    if (x + 4 <= columns) tile(Count<4>{});
  }
  if (x + 2 <= columns) tile(Count<2>{});
  if (x < columns) tile(Count<1>{});
}

// Output vectors [j_begin, j_end) of pixels [0, columns), one panel at a time (each panel of the
// weights serves every pixel), in tiles of PX pixels. w: the weights in panels (pack_panels) of
// `inputs` rows; j_begin starts a panel, and j_end ends one or is the last vector. R: the residual
// res added (product_tile).
template <Activation EA, int PS, int PX, bool R = false, class TapsAt>
inline void product_vectors(const TapsAt& taps_at, std::ptrdiff_t ps, const float* w, int inputs, const float* bias,
                            int j_begin, int j_end, int B, int columns, float* out, std::ptrdiff_t out_plane,
                            const float* res = nullptr) {
  auto panel = [&](int j) { return w + static_cast<std::ptrdiff_t>(j) * W * inputs; };
  int j = j_begin;
  for (; j + kVectors <= j_end; j += kVectors)
    product_columns<kVectors, EA, PS, PX, 0, R>(taps_at, ps, panel(j), bias, j, B, columns, out, out_plane, nullptr, res);
  static_assert(kVectors == 3, "the panels left after the full ones: one of 2 or 1 vectors");
  if (j + 2 == j_end)
    product_columns<2, EA, PS, PX, 0, R>(taps_at, ps, panel(j), bias, j, B, columns, out, out_plane, nullptr, res);
  if (j + 1 == j_end)
    product_columns<1, EA, PS, PX, 0, R>(taps_at, ps, panel(j), bias, j, B, columns, out, out_plane, nullptr, res);
}

// The taps of a 1x1 conv over a blocked activation: pixel x's input channels, in points at pixel 0
// in channel block 0 (blocks in_plane apart).
inline auto blocked_taps(const float* in, std::ptrdiff_t in_plane, int in_channels, int B) {
  return [=](int x) {
    return [=](const auto& f) {
      const float* px = in + static_cast<std::ptrdiff_t>(x) * B;
      for (int ib = 0, ic = 0; ic < in_channels; ++ib) {
        const float* ip = px + ib * in_plane;
        const int jn = imin(B, in_channels - ic);
        for (int j = 0; j < jn; ++j, ++ic) f(ip + j);
      }
    };
  };
}

// The taps of the stem for output pixel x: every input channel x kernel row x kernel column of a
// zero-padded input band (pixels `stride` floats apart), at offsets[t] from the pixel's first
// (stem_offsets). One flat loop, each pass a tap: with a loop per kernel row, GCC (-O3) unrolled
// the 3 columns into a pass of 2 and one of 1 with the rows' set-up between them, and the stems ran
// 4-12% slower (a Zen 3 core, bench/PERFORMANCE_NOTES.md, eighth sitting); with the row unrolled
// by hand, it started the next taps' broadcasts early and spilled.
inline auto stem_taps(const float* buf, const int* offsets, int taps, int st) {
  return [=](int x) {
    return [=](const auto& f) {
      const float* px = buf + static_cast<std::ptrdiff_t>(x) * st;
#pragma GCC unroll 1
      for (int t = 0; t < taps; ++t) f(px + offsets[t]);
    };
  };
}

// The offsets of the stem's taps in its band [channels][kernel][pw], in the weights' order
// (channel, kernel row, kernel column); kStemMaxTaps at most (check).
inline void stem_offsets(const StemShape& s, int pw, int* offsets) {
  for (int r = 0, t = 0; r < s.channels * s.kernel; ++r)
    for (int kw = 0; kw < s.kernel; ++kw) offsets[t++] = r * pw + kw;
}

// The stem's output row oh of image `image` ([channels][in_h][in_w]): the input rows its windows
// reach copied into a zero-padded band (kStemFloats), then every output vector of every
// pixel from it. S: the stride known at compile time (0: not). Tiles of 4 pixels: with kPixels,
// 8 on AVX-512, GCC spilled accumulators (the taps' loop holds more live registers than the 1x1
// conv's), and the 380x380 stem of B4 measured 0.68-0.83 ms alone instead of 0.58-0.77. Four
// (stem_four): tiles of 3 pixels x all 4 vectors.
template <Activation A, int S, bool Four>
__attribute__((noinline)) void stem_row(const StemShape& s, const float* image, const float* w, const float* bias,
                                        float* out, int oh, float* buf, const int* offsets) {
  const int k = s.kernel, pw = padded_width(s);
  const int ih0 = oh * s.stride - s.pad_top;
  for (int c = 0; c < s.channels; ++c)
    for (int kh = 0; kh < k; ++kh) {
      float* br = buf + static_cast<std::ptrdiff_t>(c * k + kh) * pw;
      const int ih = ih0 + kh;
      const bool inside = ih >= 0 && ih < s.in_h;
      const auto [lead, columns] = padded_span(inside, s.pad_left, s.in_w, pw);
      for (int x = 0; x < lead; ++x) br[x] = 0;
      if (inside) {
        const float* sr = image + (static_cast<std::ptrdiff_t>(c) * s.in_h + ih) * s.in_w;
        for (int x = 0; x < columns; ++x) br[lead + x] = sr[x];
      }
      for (int x = lead + columns; x < pw; ++x) br[x] = 0;
    }
  const int B = s.block, padded = s.out_blocks * B;
  const std::ptrdiff_t out_plane = static_cast<std::ptrdiff_t>(s.out_h) * s.out_w * B;
  const int taps = s.channels * k * k;
  const auto taps_at = stem_taps(buf, offsets, taps, S ? S : s.stride);
  float* row = out + static_cast<std::ptrdiff_t>(oh) * s.out_w * B;
  if constexpr (Four) {
    product_columns<3, A, S, 3, 1>(taps_at, s.stride, w, bias, 0, B, s.out_w, row, out_plane, w + 3 * W * taps);
  } else {
    product_vectors<A, S, 4>(taps_at, s.stride, w, taps, bias, 0, padded / W, B, s.out_w, row, out_plane);
  }
}

// Whether a stem takes stem_row's Four path (stride 2, as every baseline's stem; the stride-1
// stems keep the general code): four vectors of output channels (32 with AVX2) as one
// tile of 3 pixels x both panels (3 + 1 vectors), not the 1-vector panel on its own, whose 4
// accumulators keep the two FMA units half busy. A copy of its own (the template argument), so
// that the other stems' code stays as it was. In the network, 1 thread, on a Zen 3 core: B0's
// swish stem 0.88-0.91 of the time before, MobileNetV2's ReLU6 stem 0.97-0.98, the 40- and
// 48-channel stems of B3 and B4 unchanged (three alternating profiles each;
// bench/PERFORMANCE_NOTES.md, ninth sitting).
inline bool stem_four(const StemShape& s) {
  return W == 8 && kVectors == 3 && s.stride == 2 && s.out_blocks * s.block == 4 * W;
}

// Input row ih of one image (image: [in_blocks][in_h][in_w][block]) expanded into a ring row
// [blocks][pw][block] at column pad_left, its first `columns` pixels. Output vectors outermost:
// each slice of the weights (input channels x kVectors vectors) serves the whole row (product_vectors).
template <Activation EA>
__attribute__((noinline)) void expand_row(const DepthwiseShape& s, const ExpandShape& e, const float* image, int ih,
                                          int columns, const float* ew, const float* eb, float* ring_row, int pw) {
  const int B = s.block, vectors = s.blocks * B / W;
  const std::ptrdiff_t in_plane = static_cast<std::ptrdiff_t>(s.in_h) * s.in_w * B;
  const std::ptrdiff_t out_plane = static_cast<std::ptrdiff_t>(pw) * B;
  const float* in = image + static_cast<std::ptrdiff_t>(ih) * s.in_w * B;
  float* out = ring_row + static_cast<std::ptrdiff_t>(s.pad_left) * B;
  product_vectors<EA, 0, kPixels>(blocked_taps(in, in_plane, e.in_channels, B), B, ew, e.in_channels, eb, 0, vectors,
                                  B, columns, out, out_plane);
}

// One output row of every channel block from ring rows (rows[kh], kh in [kh_lo, kh_hi): the
// zero-padded expanded input row kh of the window, [blocks][pw][block]); the row's activated
// outputs' channel sums into row_sums [padded].
template <int K, int S, Activation A>
__attribute__((noinline)) void depthwise_ring_row(const DepthwiseShape& s, const float* const* rows, int kh_lo,
                                                  int kh_hi, int pw, const float* w, const float* bias, float* out,
                                                  std::ptrdiff_t out_plane, float* row_sums) {
  const int B = s.block, k = K ? K : s.kernel, st = S ? S : s.stride;
  const std::ptrdiff_t ring_plane = static_cast<std::ptrdiff_t>(pw) * B;
  const int padded = s.blocks * B;
  for (int v = 0; v < padded; v += W) {
    const int cb = v / B, off = v % B;
    const V b = load(bias + v);
    const float* wb = w + static_cast<std::ptrdiff_t>(cb) * k * k * B + off;
    float* o = out + cb * out_plane + off;
    V sum = splat(0.0f);
    convolve_row_any<A, K, S>([&](int kh) { return rows[kh] + cb * ring_plane + off; }, kh_lo, kh_hi, k, st, B, wb, B, b,
                        o, s.out_w, sum);
    store(row_sums + v, sum);
  }
}

// One output row of the depthwise conv (mid [blocks][out_w][block]) projected into out (the row's
// first pixel in block 0 of the projection's output, blocks out_plane apart), res at the same
// offsets in the residual when R.
template <Activation PA, bool R>
__attribute__((noinline)) void project_row(const DepthwiseShape& s, const Projection& pj, const float* mid, float* out,
                                           const float* res, std::ptrdiff_t out_plane) {
  const int B = s.block;
  const auto taps = blocked_taps(mid, static_cast<std::ptrdiff_t>(s.out_w) * B, pj.in_channels, B);
  const int vectors = pj.out_blocks * B / W;
#if EFFSCALE_VECTOR_WIDTH == 16 && defined(__AVX512F__)
  // The last vector's upper half all padding (24 or 40 channels): its panel in pairs of pixels.
  const int last_panel = vectors % kVectors ? vectors % kVectors : kVectors;
  const int real = pj.out_channels > 0 ? pj.out_channels : vectors * W;
  if (B == W && last_panel >= 2 && real <= vectors * W - W / 2) {
    const int j = vectors - last_panel;
    product_vectors<PA, 0, kPixels, R>(taps, B, pj.weights, pj.in_channels, pj.bias, 0, j, B, s.out_w, out, out_plane,
                                       res);
    const float* panel = pj.weights + static_cast<std::ptrdiff_t>(j) * W * pj.in_channels;
    if (last_panel == 2) {
      product_pair_columns<1, PA, 0, R>(taps, B, panel, pj.bias, j, B, s.out_w, out, out_plane, res);
    } else {
      product_pair_columns<2, PA, 0, R>(taps, B, panel, pj.bias, j, B, s.out_w, out, out_plane, res);
    }
    return;
  }
#endif
  product_vectors<PA, 0, kPixels, R>(taps, B, pj.weights, pj.in_channels, pj.bias, 0, vectors, B, s.out_w, out,
                                     out_plane, res);
}

// Output rows [oh_begin, oh_end) of image n, every channel block: each input row the window
// reaches is expanded once into a ring of `kernel` zero-padded rows (ring [kernel][blocks][pw][block],
// this thread's), then each output row is convolved from the ring. With a projection (pj), each
// output row goes to mid ([blocks][out_w][block], this thread's) and is projected from there into
// out (the image's projection output), res the image's residual (or null).
template <int K, int S, Activation A, Activation EA>
void expand_depthwise_rows(const DepthwiseShape& s, const ExpandShape& e, const float* image, const float* ew,
                           const float* eb, const float* w, const float* bias, float* out, int oh_begin, int oh_end,
                           float* ring, float* row_sums, const Projection* pj, float* mid, const float* res) {
  const int B = s.block, k = K ? K : s.kernel, st = S ? S : s.stride;
  const int pw = padded_width(s);
  const std::ptrdiff_t ring_plane = static_cast<std::ptrdiff_t>(pw) * B;
  const std::ptrdiff_t ring_row = ring_plane * s.blocks;
  const int columns = padded_span(true, s.pad_left, s.in_w, pw).columns;
  // The columns the expansion never writes stay zero: the padding.
  for (int r = 0; r < k; ++r)
    for (int cb = 0; cb < s.blocks; ++cb) {
      float* row = ring + r * ring_row + cb * ring_plane;
      for (int x = 0; x < s.pad_left; ++x) store_block_zero(row + x * B, B);
      for (int x = s.pad_left + columns; x < pw; ++x) store_block_zero(row + x * B, B);
    }
  const std::ptrdiff_t out_plane = static_cast<std::ptrdiff_t>(s.out_h) * s.out_w * B;
  const float* rows[16];
  int next = imax(oh_begin * st - s.pad_top, 0);  // the first input row not yet in the ring
  for (int oh = oh_begin; oh < oh_end; ++oh) {
    const int ih0 = oh * st - s.pad_top;
    const int lo = imax(ih0, 0), hi = imin(ih0 + k, s.in_h);
    for (int ih = imax(lo, next); ih < hi; ++ih)
      expand_row<EA>(s, e, image, ih, columns, ew, eb, ring + (ih % k) * ring_row, pw);
    next = imax(next, hi);
    for (int ih = lo; ih < hi; ++ih) rows[ih - ih0] = ring + (ih % k) * ring_row;
    const std::ptrdiff_t row_at = static_cast<std::ptrdiff_t>(oh) * s.out_w * B;
    if (!pj) {
      depthwise_ring_row<K, S, A>(s, rows, lo - ih0, hi - ih0, pw, w, bias, out + row_at, out_plane,
                                  row_sums + static_cast<std::ptrdiff_t>(oh) * s.blocks * B);
      continue;
    }
    depthwise_ring_row<K, S, A>(s, rows, lo - ih0, hi - ih0, pw, w, bias, mid, static_cast<std::ptrdiff_t>(s.out_w) * B,
                                row_sums + static_cast<std::ptrdiff_t>(oh) * s.blocks * B);
    with_activation(pj->activation, [&](auto act) {
      constexpr Activation PA = decltype(act)::value;
      if (res) {
        project_row<PA, true>(s, *pj, mid, out + row_at, res + row_at, out_plane);
      } else {
        project_row<PA, false>(s, *pj, mid, out + row_at, nullptr, out_plane);
      }
    });
  }
}

}  // namespace

void depthwise_se(const DepthwiseShape& s, const SeShape* se, const float* src, const float* weights,
                  const float* bias, float* dst, const SeWeights* sw, float* gate, float* scratch) {
  const int bands = depthwise_bands(s);
  float* partial = scratch;
  float* sums = partial + partial_floats(s, bands);
  float* squeezed = se ? sums + static_cast<std::ptrdiff_t>(s.batch) * se->padded : nullptr;
  const std::ptrdiff_t in_plane = static_cast<std::ptrdiff_t>(s.in_h) * s.in_w * s.block;
  const std::ptrdiff_t out_plane = static_cast<std::ptrdiff_t>(s.out_h) * s.out_w * s.block;
  const int taps = s.kernel * s.kernel * s.block;
  auto band = [&](int plane, int oh_begin, int oh_end, float* part) {
    const int cb = plane % s.blocks;
    depthwise_band(s, src + plane * in_plane, weights + cb * taps, bias + cb * s.block, dst + plane * out_plane,
                   oh_begin, oh_end, part);
  };
  bands_then_se(s, bands, band, partial, se, sw, sums, squeezed, gate);
}

void expand_depthwise(const DepthwiseShape& s, const ExpandShape& e, const float* src, const float* expand_weights,
                      const float* expand_bias, const float* weights, const float* bias, float* dst, const SeShape* se,
                      const SeWeights* sw, float* gate, float* scratch, int threads, const Projection* pj) {
  const int padded = s.blocks * s.block;
  float* row_sums = scratch;  // [batch][out_h][padded]
  float* sums = row_sums + static_cast<std::ptrdiff_t>(s.batch) * s.out_h * padded;
  float* squeezed = sums + static_cast<std::ptrdiff_t>(s.batch) * padded;
  const int bands = expand_bands(s, threads);
  const std::ptrdiff_t image = static_cast<std::ptrdiff_t>(e.in_blocks) * s.in_h * s.in_w * s.block;
  const std::ptrdiff_t out_image =
      static_cast<std::ptrdiff_t>(pj ? pj->out_blocks : s.blocks) * s.out_h * s.out_w * s.block;
  const std::size_t ring_floats = expand_ring_floats(s);
  // The projection's row buffer after the ring, on a cache line of its own.
  constexpr std::size_t line = kAlignment / sizeof(float);
  const std::size_t mid_at = (ring_floats + line - 1) / line * line;
  const std::size_t mid_floats = pj ? static_cast<std::size_t>(padded) * s.out_w : 0;
  std::atomic<bool> no_ring{false};  // an allocation failed: thrown after the parallel region
  parallel_region(threads, [&] {
    float* ring = thread_ring(mid_at + mid_floats);
    if (!ring) no_ring = true;
#pragma omp for schedule(static)
    for (int item = 0; item < s.batch * bands; ++item) {
      if (!ring) continue;
      const int n = item / bands, band = item % bands;
      const int oh_begin = static_cast<int>(static_cast<std::int64_t>(s.out_h) * band / bands);
      const int oh_end = static_cast<int>(static_cast<std::int64_t>(s.out_h) * (band + 1) / bands);
      with_activation(s.activation, [&](auto act) {
        with_activation(e.activation, [&](auto expand_act) {
          with_geometry(s.kernel, s.stride, [&](auto g) {
            expand_depthwise_rows<decltype(g)::kernel, decltype(g)::stride, decltype(act)::value,
                                  decltype(expand_act)::value>(
                s, e, src + n * image, expand_weights, expand_bias, weights, bias, dst + n * out_image, oh_begin,
                oh_end, ring, row_sums + static_cast<std::ptrdiff_t>(n) * s.out_h * padded, pj, ring + mid_at,
                pj && pj->residual ? pj->residual + n * out_image : nullptr);
          });
        });
      });
    }
    if (se) {
      // Each image's channel sums, row by row in order: the same for any thread count.
      const int chunks = padded / W;
#pragma omp for schedule(static)
      for (int i = 0; i < s.batch * chunks; ++i) {
        const int n = i / chunks, c = i % chunks * W;
        const float* r = row_sums + static_cast<std::ptrdiff_t>(n) * s.out_h * padded + c;
        V acc = splat(0.0f);
        for (int oh = 0; oh < s.out_h; ++oh) acc += load(r + static_cast<std::ptrdiff_t>(oh) * padded);
        store(sums + static_cast<std::ptrdiff_t>(n) * padded + c, acc);
      }
      se_gate(s, *se, *sw, sums, squeezed, gate);
    }
  });
  if (no_ring) throw std::bad_alloc();
}

void pointwise(const PointwiseShape& s, const float* src, const float* weights, const float* bias, float* dst) {
  // Work items: image x chunk of pixels x group of kVectors output vectors, the group innermost
  // (consecutive items share their input chunk). Pixel chunks of about 128 keep a chunk of the
  // input in L1 on the early, narrow layers. On the late ones the threads split the output
  // channels (one chunk): maps of at most 128 pixels, and maps whose weights are more than twice
  // their input, where with chunks each thread would read all the weights, and only half without
  // (B4's 12 x 12 expansions, 1.8-4.8 MB of weights, with 2 threads 0-12% faster on a Zen 5 core,
  // 7% in the median, level with 1; bench/PERFORMANCE_NOTES.md, fifteenth sitting).
  constexpr int kChunk = 128;
  const int B = s.block, vectors = s.out_blocks * B / W;
  const int groups = (vectors + kVectors - 1) / kVectors;
  const bool weights_dominate =
      static_cast<std::int64_t>(s.in_channels) * s.out_blocks > 2 * static_cast<std::int64_t>(s.pixels) * s.in_blocks;
  const int chunks = weights_dominate ? 1 : (s.pixels + kChunk - 1) / kChunk;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(s.pixels) * B;
  const int items = s.batch * chunks * groups;
  with_activation(s.activation, [&](auto act) {
    constexpr Activation EA = decltype(act)::value;
    parallel_region(0, [&] {
#pragma omp for schedule(static)
      for (int item = 0; item < items; ++item) {
        const int g = item % groups, chunk = item / groups % chunks, n = item / groups / chunks;
        // Chunks of equal size (to a multiple of 8 pixels), so that the threads' shares match.
        const int p0 = static_cast<int>(static_cast<std::int64_t>(s.pixels) * chunk / chunks) / 8 * 8;
        const int p1 = chunk + 1 == chunks
                           ? s.pixels
                           : static_cast<int>(static_cast<std::int64_t>(s.pixels) * (chunk + 1) / chunks) / 8 * 8;
        const int count = p1 - p0;
        const float* in = src + (n * s.in_blocks * plane + static_cast<std::ptrdiff_t>(p0) * B);
        float* out = dst + (n * s.out_blocks * plane + static_cast<std::ptrdiff_t>(p0) * B);
        const int j0 = g * kVectors;
        product_vectors<EA, 0, kPixels>(blocked_taps(in, plane, s.in_channels, B), B, weights, s.in_channels, bias, j0,
                                        imin(j0 + kVectors, vectors), B, count, out, plane);
      }
    });
  });
}

// A taps_at (product_tile) whose taps each also prefetch the next two cache lines of [pf.next,
// pf.end) (prefetcht0): a read that overlaps the product's arithmetic. In MobileNetV2's head +
// classifier step, 1 thread, a Zen 5 core: 0.32-0.33 ms, against 0.39-0.41 without the prefetch
// and 0.37-0.39 prefetching the next panel's weights instead (bench/PERFORMANCE_NOTES.md,
// sixteenth sitting).
struct Prefetch {
  const char* next;
  const char* end;
};

template <class TapsAt>
inline auto prefetching(const TapsAt& taps_at, Prefetch& pf) {
  return [&taps_at, &pf](int x) {
    const auto taps = taps_at(x);
    return [taps, &pf](const auto& f) {
      taps([&](const float* p) {
        f(p);
        if (pf.next < pf.end) {
          __builtin_prefetch(pf.next, 0, 3);
          __builtin_prefetch(pf.next + 64, 0, 3);
          pf.next += 128;
        }
      });
    };
  };
}

// part[0, R x W) = sum over c < width of pooled[c] x wt[c x rows, + R x W): R accumulators, each
// weight read once.
template <int R>
inline void classifier_partial(const float* wt, std::ptrdiff_t rows, const float* pooled, int width, float* part) {
  V acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = splat(0.0f);
  for (int c = 0; c < width; ++c) {
    const V x = splat(pooled[c]);
    const float* wr = wt + c * rows;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] += load(wr + r * W) * x;
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) store(part + r * W, acc[r]);
}

void head_classifier(const HeadClassifierShape& hs, const float* src, const float* head_weights,
                     const float* head_bias, const float* fc_weights, const float* fc_bias, float* dst,
                     float* scratch) {
  const PointwiseShape& s = hs.head;
  const int B = s.block, vectors = s.out_blocks * B / W;
  const int groups = (vectors + kVectors - 1) / kVectors;
  const int rows = (hs.outputs + 15) / 16 * 16, row_vectors = rows / W;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(s.pixels) * B;
  // The panel's head outputs, then the pooled panel (head_pooled_at).
  const std::size_t pooled_at = head_pooled_at(hs, W);
  const float inv_area = 1.0f / static_cast<float>(s.pixels);
  std::atomic<bool> no_buffer{false};  // an allocation failed: thrown after the parallel region
  with_activation(s.activation, [&](auto act) {
    constexpr Activation EA = decltype(act)::value;
    parallel_region(0, [&] {
      float* buf = thread_ring(pooled_at + kVectors * W);
      if (!buf) no_buffer = true;
      float* pooled = buf ? buf + pooled_at : nullptr;
#pragma omp for schedule(static)
      for (int item = 0; item < s.batch * groups; ++item) {
        if (!buf) continue;
        const int g = item % groups, n = item / groups;
        const int j = g * kVectors, count = imin(kVectors, vectors - j), width = count * W;
        const float* wt = fc_weights + static_cast<std::ptrdiff_t>(j) * W * rows;  // this panel's rows
        Prefetch pf{reinterpret_cast<const char*>(wt), reinterpret_cast<const char*>(wt + width * rows)};
        const auto base = blocked_taps(src + n * s.in_blocks * plane, plane, s.in_channels, B);
        const auto taps_at = prefetching(base, pf);
        const float* panel = head_weights + static_cast<std::ptrdiff_t>(j) * W * s.in_channels;
        const float* bias = head_bias + j * W;
        if (count == 3) product_columns<3, EA, 0, kPixels>(taps_at, B, panel, bias, 0, B, s.pixels, buf, plane);
        if (count == 2) product_columns<2, EA, 0, kPixels>(taps_at, B, panel, bias, 0, B, s.pixels, buf, plane);
        if (count == 1) product_columns<1, EA, 0, kPixels>(taps_at, B, panel, bias, 0, B, s.pixels, buf, plane);
        static_assert(kVectors == 3, "a panel of 3, 2 or 1 vectors");
        // The pool: each vector's pixels summed in order, four partial sums.
        for (int v = 0; v < count; ++v) {
          const float* in = buf + (v * W / B) * plane + v * W % B;
          V p0 = splat(0.0f), p1 = p0, p2 = p0, p3 = p0;
          int p = 0;
          for (; p + 4 <= s.pixels; p += 4) {
            p0 += load(in + p * B);
            p1 += load(in + (p + 1) * B);
            p2 += load(in + (p + 2) * B);
            p3 += load(in + (p + 3) * B);
          }
          for (; p < s.pixels; ++p) p0 += load(in + p * B);
          store(pooled + v * W, ((p0 + p1) + (p2 + p3)) * inv_area);
        }
        float* part = scratch + (static_cast<std::ptrdiff_t>(n) * groups + g) * rows;
        int r = 0;
        for (; r + 8 <= row_vectors; r += 8) classifier_partial<8>(wt + r * W, rows, pooled, width, part + r * W);
        for (; r < row_vectors; ++r) classifier_partial<1>(wt + r * W, rows, pooled, width, part + r * W);
      }
      // The panels' partial sums in panel order, then the bias and the activation.
#pragma omp for schedule(static)
      for (int i = 0; i < s.batch * row_vectors; ++i) {
        const int n = i / row_vectors, c = i % row_vectors * W;
        if (!buf) continue;
        V acc = splat(0.0f);
        for (int g = 0; g < groups; ++g) acc += load(scratch + (static_cast<std::ptrdiff_t>(n) * groups + g) * rows + c);
        with_activation(hs.activation, [&](auto fc_act) {
          for (int lane = 0; lane < W && c + lane < hs.outputs; ++lane)
            dst[n * hs.outputs + c + lane] = activate<decltype(fc_act)::value>(splat(acc[lane] + fc_bias[c + lane]))[0];
        });
      }
    });
  });
  if (no_buffer) throw std::bad_alloc();
}

void stem(const StemShape& s, const float* src, const float* weights, const float* bias, float* dst) {
  const std::ptrdiff_t image = static_cast<std::ptrdiff_t>(s.channels) * s.in_h * s.in_w;
  const std::ptrdiff_t out_image = static_cast<std::ptrdiff_t>(s.out_blocks) * s.out_h * s.out_w * s.block;
  const int rows = s.batch * s.out_h;
  const bool four = stem_four(s);
  with_activation(s.activation, [&](auto act) {
    parallel_region(0, [&] {
      alignas(64) float buf[kStemFloats];
      int offsets[kStemMaxTaps];
      stem_offsets(s, padded_width(s), offsets);
#pragma omp for schedule(static)
      for (int r = 0; r < rows; ++r) {
        const int n = r / s.out_h;
        float* out = dst + n * out_image;
        constexpr Activation A = decltype(act)::value;
        if (four) {
          stem_row<A, 2, true>(s, src + n * image, weights, bias, out, r % s.out_h, buf, offsets);
        } else if (s.stride == 2) {
          stem_row<A, 2, false>(s, src + n * image, weights, bias, out, r % s.out_h, buf, offsets);
        } else {
          stem_row<A, 0, false>(s, src + n * image, weights, bias, out, r % s.out_h, buf, offsets);
        }
      }
    });
  });
}

// Rows w[0..S) of the classifier's weights times the pooled vector x, into sums: the S rows are
// read side by side, S streams for the hardware prefetcher.
template <int S>
inline void classifier_dots(const float* const* w, const float* x, int inputs, float* sums) {
  const int whole = inputs / (2 * W) * (2 * W);
  V a[S], b[S];
  for (int r = 0; r < S; ++r) a[r] = b[r] = splat(0.0f);
  for (int i = 0; i < whole; i += 2 * W) {
    const V x0 = load(x + i), x1 = load(x + i + W);
    for (int r = 0; r < S; ++r) {
      a[r] += load(w[r] + i) * x0;
      b[r] += load(w[r] + i + W) * x1;
    }
  }
  for (int r = 0; r < S; ++r) {
    const V v = a[r] + b[r];
    float t = 0;
    for (int k = 0; k < W; ++k) t += v[k];
    for (int i = whole; i < inputs; ++i) t += w[r][i] * x[i];
    sums[r] = t;
  }
}

void classifier(const ClassifierShape& s, const float* src, const float* weights, const float* bias, float* dst,
                float* pooled) {
  const int B = s.block, padded = s.in_blocks * B, row = classifier_row(s);
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(s.pixels) * B;
  const float inv_area = 1.0f / static_cast<float>(s.pixels);
  const int planes = s.batch * s.in_blocks;
  with_activation(s.activation, [&](auto act) {
    constexpr Activation A = decltype(act)::value;
    parallel_region(0, [&] {
      // The pool: each channel block's pixels summed in order, four partial sums.
#pragma omp for schedule(static)
      for (int item = 0; item < planes; ++item) {
        const float* in = src + item * plane;
        for (int j = 0; j < B; j += W) {
          V p0 = splat(0.0f), p1 = p0, p2 = p0, p3 = p0;
          int p = 0;
          for (; p + 4 <= s.pixels; p += 4) {
            p0 += load(in + p * B + j);
            p1 += load(in + (p + 1) * B + j);
            p2 += load(in + (p + 2) * B + j);
            p3 += load(in + (p + 3) * B + j);
          }
          for (; p < s.pixels; ++p) p0 += load(in + p * B + j);
          store(pooled + item * B + j, ((p0 + p1) + (p2 + p3)) * inv_area);
        }
      }
      // The fully connected layer: each thread a contiguous range of outputs, read as S streams.
      constexpr int S = kClassifierStreams;
      const int threads = omp_get_num_threads(), t = omp_get_thread_num();
      const int lo = static_cast<int>(static_cast<std::int64_t>(s.outputs) * t / threads);
      const int hi = static_cast<int>(static_cast<std::int64_t>(s.outputs) * (t + 1) / threads);
      const int q = (hi - lo) / S;
      const float* w[S];
      float sums[S];
      for (int o = 0; o < q; ++o) {
        for (int r = 0; r < S; ++r) w[r] = weights + static_cast<std::ptrdiff_t>(lo + r * q + o) * row;
        for (int n = 0; n < s.batch; ++n) {
          classifier_dots<S>(w, pooled + n * padded, s.in_channels, sums);
          for (int r = 0; r < S; ++r) {
            const int c = lo + r * q + o;
            dst[n * s.outputs + c] = activate<A>(splat(sums[r] + bias[c]))[0];
          }
        }
      }
      for (int c = lo + S * q; c < hi; ++c) {
        w[0] = weights + static_cast<std::ptrdiff_t>(c) * row;
        for (int n = 0; n < s.batch; ++n) {
          classifier_dots<1>(w, pooled + n * padded, s.in_channels, sums);
          dst[n * s.outputs + c] = activate<A>(splat(sums[0] + bias[c]))[0];
        }
      }
    });
  });
}

void scale_runs(const float* src, float* dst, std::size_t runs, int run, const int* channel, const float* gate) {
  const auto n = static_cast<std::ptrdiff_t>(runs);
  if (run % W == 0) {
    auto runs_of = [&] {
#pragma omp for schedule(static)
      for (std::ptrdiff_t r = 0; r < n; ++r) {
        const V g = splat(gate[channel[r]]);
        for (int j = 0; j < run; j += W) store(dst + r * run + j, load(src + r * run + j) * g);
      }
    };
    parallel_region(n * run >= 16384 ? 0 : 1, runs_of);  // small tensors: one thread
    return;
  }
  for (std::size_t r = 0; r < runs; ++r) {
    const float g = gate[channel[r]];
    const float* s = src + r * run;
    float* d = dst + r * run;
    for (int j = 0; j < run; ++j) d[j] = s[j] * g;
  }
}

}  // namespace effscale::kernels::EFFSCALE_KERNEL_PATH
