// The kernels' one implementation, included by one translation unit per path with
// EFFSCALE_KERNEL_PATH (the path's namespace) and EFFSCALE_VECTOR_WIDTH (floats a vector) defined,
// and compiled with that path's instruction-set flags. Everything but the entry points has
// internal linkage and no standard-library inline function is used, so the linker can never hand
// one path's instructions to another path. No include guard: included once per path.

#include <immintrin.h>
#include <omp.h>

#include <cstdint>
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

inline V vmax(V a, V b) { return a > b ? a : b; }

inline V vmin(V a, V b) { return a < b ? a : b; }

// e^x, Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2, a degree-7 polynomial for e^r, 2^n from the
// exponent bits. n is rounded by adding 1.5 x 2^23, which leaves it in the low mantissa bits.
// Relative error about 2e-7 over [-87, 88]; the input is clamped to that range.
inline V vexp(V x) {
  x = vmin(vmax(x, splat(-87.0f)), splat(88.0f));
  const V shifted = x * 1.44269504088896341f + 12582912.0f;
  const V nf = shifted - 12582912.0f;
  const V r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
  V p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  VU bits;
  __builtin_memcpy(&bits, &shifted, sizeof bits);
  bits = (bits + 127u) << 23;  // the low 9 bits hold n + 127 (1..254)
  V scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return p * scale;
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

template <Activation A>
inline V activate(V x) {
  if constexpr (A == Activation::kRelu) return vmax(x, splat(0.0f));
  if constexpr (A == Activation::kRelu6) return vmin(vmax(x, splat(0.0f)), splat(6.0f));
  if constexpr (A == Activation::kSwish) return x * reciprocal(1.0f + vexp(-x));
  if constexpr (A == Activation::kSigmoid) return reciprocal(1.0f + vexp(-x));
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
      for (; ow + 4 <= ow_hi; ow += 4) {
        V a0 = b, a1 = b, a2 = b, a3 = b;
        const std::ptrdiff_t p0 = in + static_cast<std::ptrdiff_t>(ow * st - s.pad_left) * B;
        for (int kh = kh_lo; kh < kh_hi; ++kh) {
          const float* p = src + (p0 + kh * row);
          const float* wr = w + kh * k * B + v;
          for (int kw = 0; kw < k; ++kw) {
            const V wv = load(wr + kw * B);
            a0 += load(p + kw * B) * wv;
            a1 += load(p + (st + kw) * B) * wv;
            a2 += load(p + (2 * st + kw) * B) * wv;
            a3 += load(p + (3 * st + kw) * B) * wv;
          }
        }
        a0 = activate<A>(a0);
        a1 = activate<A>(a1);
        a2 = activate<A>(a2);
        a3 = activate<A>(a3);
        float* o = out + static_cast<std::ptrdiff_t>(ow) * B;
        store(o, a0);
        store(o + B, a1);
        store(o + 2 * B, a2);
        store(o + 3 * B, a3);
        sum += (a0 + a1) + (a2 + a3);
      }
      for (; ow < ow_hi; ++ow) {
        V a = b;
        const std::ptrdiff_t p0 = in + static_cast<std::ptrdiff_t>(ow * st - s.pad_left) * B;
        for (int kh = kh_lo; kh < kh_hi; ++kh)
          for (int kw = 0; kw < k; ++kw) a += load(src + (p0 + kh * row + kw * B)) * load(w + (kh * k + kw) * B + v);
        a = activate<A>(a);
        store(out + static_cast<std::ptrdiff_t>(ow) * B, a);
        sum += a;
      }
      for (; ow < out_w; ++ow) edge(ow);
    }
    store(sums + v, load(sums + v) + sum);
  }
}

// Floats of the zero-padded input copy that small feature maps are convolved from (on the stack).
constexpr int kPaddedFloats = 8192;

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
    for (int ow = 0; ow < s.out_w; ow += 4) {
      V a[4] = {b, b, b, b};
      for (int kh = 0; kh < k; ++kh) {
        const float* p = base + (kh * pw + ow * st) * W;
        const float* wr = w + kh * k * B + v;
        for (int kw = 0; kw < k; ++kw) {
          const V wv = load(wr + kw * B);
          a[0] += load(p + kw * W) * wv;
          a[1] += load(p + (st + kw) * W) * wv;
          a[2] += load(p + (2 * st + kw) * W) * wv;
          a[3] += load(p + (3 * st + kw) * W) * wv;
        }
      }
      const int valid = imin(4, s.out_w - ow);
      for (int j = 0; j < valid; ++j) {
        const V y = activate<A>(a[j]);
        store(out + static_cast<std::ptrdiff_t>(ow + j) * B, y);
        sum += y;
      }
    }
  }
}

// Small feature maps (most output pixels touch the border): the band's input rows are copied,
// one vector of channels at a time, into a zero-padded buffer and convolved from there.
template <int K, int S, Activation A>
bool depthwise_rows_padded(const DepthwiseShape& s, const float* src, const float* w, const float* bias, float* dst,
                           int oh_begin, int oh_end, float* sums) {
  const int B = s.block, k = K ? K : s.kernel, st = S ? S : s.stride;
  const int pw = padded_width(s);
  const int rows = (oh_end - oh_begin - 1) * st + k;
  if (static_cast<std::int64_t>(rows) * pw * W > kPaddedFloats) return false;
  alignas(64) float buf[kPaddedFloats];
  const int ih_begin = oh_begin * st - s.pad_top;
  for (int v = 0; v < B; v += W) {
    for (int r = 0; r < rows; ++r) {
      const int ih = ih_begin + r;
      float* br = buf + static_cast<std::ptrdiff_t>(r) * pw * W;
      for (int x = 0; x < pw; ++x) {
        const int iw = x - s.pad_left;
        const bool inside = ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w;
        store(br + x * W, inside ? load(src + ((static_cast<std::ptrdiff_t>(ih) * s.in_w + iw) * B + v)) : splat(0.0f));
      }
    }
    V sum = splat(0.0f);
    convolve_padded<K, S, A>(s, buf, pw, w, dst, v, oh_begin, oh_end, load(bias + v), sum);
    store(sums + v, load(sums + v) + sum);
  }
  return true;
}

void depthwise_band(const DepthwiseShape& s, const float* src, const float* w, const float* bias, float* dst,
                    int oh_begin, int oh_end, float* sums) {
  with_activation(s.activation, [&](auto act) {
    with_geometry(s.kernel, s.stride, [&](auto g) {
      constexpr Activation A = decltype(act)::value;
      constexpr int K = decltype(g)::kernel, S = decltype(g)::stride;
      if (s.out_w <= 16 && depthwise_rows_padded<K, S, A>(s, src, w, bias, dst, oh_begin, oh_end, sums)) return;
      depthwise_rows<K, S, A>(s, src, w, bias, dst, oh_begin, oh_end, sums);
    });
  });
}

// The depthwise bands, in one parallel region with the SE path when `se` is set: the bands' channel
// sums are added up per image (in band order: the same for any thread count), the reduce FC runs
// one squeezed channel per iteration, the expand FC and the sigmoid one vector of channels.
// Expanded channels [v, v + W) of P consecutive input pixels (px: the first, in channel block 0;
// input rows are contiguous, so the pixels may span rows): activation(bias + sum over input
// channels of weight x input), stored to out[p] (skipped where null).
template <int P, Activation EA>
inline void expand_pixels(const DepthwiseShape& s, const ExpandShape& e, const float* px, const float* ew,
                          std::ptrdiff_t ew_stride, V eb, float* const* out) {
  const int B = s.block;
  const std::ptrdiff_t in_plane = static_cast<std::ptrdiff_t>(s.in_h) * s.in_w * B;
  V acc[P];
  for (int p = 0; p < P; ++p) acc[p] = eb;
  for (int ib = 0, ic = 0; ic < e.in_channels; ++ib) {
    const float* ip = px + ib * in_plane;
    const int jn = imin(B, e.in_channels - ic);
    for (int j = 0; j < jn; ++j, ++ic) {
      const V wv = load(ew + ic * ew_stride);
      for (int p = 0; p < P; ++p) acc[p] += wv * ip[p * B + j];
    }
  }
  for (int p = 0; p < P; ++p)
    if (out[p]) store(out[p], activate<EA>(acc[p]));
}

// Input rows [ih_lo, ih_hi) expanded into buffer rows starting at `rows0` (pw pixels of W floats
// a row, input column iw at pad_left + iw; only the first `columns` columns are kept), in groups
// of eight pixels taken across row ends.
template <Activation EA>
void expand_rows(const DepthwiseShape& s, const ExpandShape& e, const float* image, int ih_lo, int ih_hi, int columns,
                 const float* ew, std::ptrdiff_t ew_stride, V eb, float* rows0, int pw) {
  const std::int64_t total = static_cast<std::int64_t>(ih_hi - ih_lo) * s.in_w;
  const float* first = image + static_cast<std::ptrdiff_t>(ih_lo) * s.in_w * s.block;
  float* out[8];
  auto target = [&](std::int64_t q) -> float* {
    const int r = static_cast<int>(q / s.in_w), iw = static_cast<int>(q % s.in_w);
    return iw < columns ? rows0 + (static_cast<std::ptrdiff_t>(r) * pw + s.pad_left + iw) * W : nullptr;
  };
  std::int64_t q = 0;
  for (; q + 8 <= total; q += 8) {
    for (int p = 0; p < 8; ++p) out[p] = target(q + p);
    expand_pixels<8, EA>(s, e, first + q * s.block, ew, ew_stride, eb, out);
  }
  if (q + 4 <= total) {
    for (int p = 0; p < 4; ++p) out[p] = target(q + p);
    expand_pixels<4, EA>(s, e, first + q * s.block, ew, ew_stride, eb, out);
    q += 4;
  }
  for (; q < total; ++q) {
    out[0] = target(q);
    expand_pixels<1, EA>(s, e, first + q * s.block, ew, ew_stride, eb, out);
  }
}

// One work item of the fused kernel: output rows [oh_begin, oh_end) of channel block cb of image n.
// The band's input rows are expanded, one vector of channels at a time, into a zero-padded
// buffer (never to memory), then convolved from it.
template <int K, int S, Activation A>
void expand_depthwise_band(const DepthwiseShape& s, const ExpandShape& e, const float* image, const float* ew,
                           const float* eb, const float* w, const float* bias, float* dst, int oh_begin, int oh_end,
                           float* sums) {
  const int B = s.block, k = K ? K : s.kernel, st = S ? S : s.stride;
  const int pw = padded_width(s);
  const int rows = (oh_end - oh_begin - 1) * st + k;
  alignas(64) float buf[kFusedBufferFloats];
  const int ih_begin = oh_begin * st - s.pad_top;
  const std::ptrdiff_t ew_stride = static_cast<std::ptrdiff_t>(s.blocks) * B;
  const int columns = imax(0, imin(s.in_w, pw - s.pad_left));  // input columns the buffer holds
  const int ih_lo = imax(ih_begin, 0), ih_hi = imin(ih_begin + rows, s.in_h);
  for (int v = 0; v < B; v += W) {
    for (int r = 0; r < rows; ++r) {
      const int ih = ih_begin + r;
      float* br = buf + static_cast<std::ptrdiff_t>(r) * pw * W;
      if (ih < 0 || ih >= s.in_h) {
        for (int x = 0; x < pw; ++x) store(br + x * W, splat(0.0f));
        continue;
      }
      for (int x = 0; x < s.pad_left; ++x) store(br + x * W, splat(0.0f));
      for (int x = s.pad_left + columns; x < pw; ++x) store(br + x * W, splat(0.0f));
    }
    if (ih_lo < ih_hi) {
      const V ebv = load(eb + v);
      float* rows0 = buf + static_cast<std::ptrdiff_t>(ih_lo - ih_begin) * pw * W;
      const float* ewv = ew + v;
      with_activation(e.activation, [&](auto act) {
        expand_rows<decltype(act)::value>(s, e, image, ih_lo, ih_hi, columns, ewv, ew_stride, ebv, rows0, pw);
      });
    }
    V sum = splat(0.0f);
    convolve_padded<K, S, A>(s, buf, pw, w, dst, v, oh_begin, oh_end, load(bias + v), sum);
    store(sums + v, load(sums + v) + sum);
  }
}

// band(plane, oh_begin, oh_end, sums) computes one work item.
template <class Band>
void bands_then_se(const DepthwiseShape& s, int bands, const Band& band_fn, float* partial, const SeShape* se,
                   const SeWeights* sw, float* sums, float* squeezed, float* gate) {
  const int planes = s.batch * s.blocks;
  const int items = planes * bands;
#pragma omp parallel
  {
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
      const int sq = se->squeezed, padded = se->padded;
#pragma omp for schedule(static)
      for (int i = 0; i < s.batch * sq; ++i) {
        const int n = i / sq, j = i % sq;
        const float* x = sums + static_cast<std::ptrdiff_t>(n) * padded;
        const float* wr = sw->reduce + static_cast<std::ptrdiff_t>(j) * padded;
        V acc = splat(0.0f);
        for (int c = 0; c < padded; c += W) acc += load(wr + c) * load(x + c);
        float dot = 0;
        for (int lane = 0; lane < W; ++lane) dot += acc[lane];
        const V y = splat(sw->reduce_bias[j] + dot * se->inv_area);
        squeezed[i] = with_activation(se->activation, [&](auto act) { return activate<decltype(act)::value>(y); })[0];
      }
      const int chunks = padded / W;
#pragma omp for schedule(static)
      for (int i = 0; i < s.batch * chunks; ++i) {
        const int n = i / chunks, c = i % chunks * W;
        V acc = load(sw->expand_bias + c);
        const float* q = squeezed + static_cast<std::ptrdiff_t>(n) * sq;
        for (int j = 0; j < sq; ++j) acc += load(sw->expand_t + static_cast<std::ptrdiff_t>(j) * padded + c) * q[j];
        V g = activate<Activation::kSigmoid>(acc);
        for (int lane = 0; lane < W; ++lane)
          if (c + lane >= se->channels) g[lane] = 0;
        store(gate + static_cast<std::ptrdiff_t>(n) * padded + c, g);
      }
    }
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
                      const SeWeights* sw, float* gate, float* scratch) {
  const int bands = expand_bands(s, W);
  float* partial = scratch;
  float* sums = partial + partial_floats(s, bands);
  float* squeezed = se ? sums + static_cast<std::ptrdiff_t>(s.batch) * se->padded : nullptr;
  const std::ptrdiff_t image = static_cast<std::ptrdiff_t>(e.in_blocks) * s.in_h * s.in_w * s.block;
  const std::ptrdiff_t out_plane = static_cast<std::ptrdiff_t>(s.out_h) * s.out_w * s.block;
  const int taps = s.kernel * s.kernel * s.block;
  auto band = [&](int plane, int oh_begin, int oh_end, float* part) {
    const int n = plane / s.blocks, cb = plane % s.blocks;
    const float* in = src + n * image;
    const float* ew = expand_weights + cb * s.block;
    const float* eb = expand_bias + cb * s.block;
    const float* w = weights + cb * taps;
    const float* b = bias + cb * s.block;
    float* d = dst + plane * out_plane;
    with_activation(s.activation, [&](auto act) {
      with_geometry(s.kernel, s.stride, [&](auto g) {
        expand_depthwise_band<decltype(g)::kernel, decltype(g)::stride, decltype(act)::value>(
            s, e, in, ew, eb, w, b, d, oh_begin, oh_end, part);
      });
    });
  };
  bands_then_se(s, bands, band, partial, se, sw, sums, squeezed, gate);
}

void scale_runs(const float* src, float* dst, std::size_t runs, int run, const int* channel, const float* gate) {
  const auto n = static_cast<std::ptrdiff_t>(runs);
  if (run % W == 0) {
#pragma omp parallel for schedule(static) if (n * run >= 16384)
    for (std::ptrdiff_t r = 0; r < n; ++r) {
      const V g = splat(gate[channel[r]]);
      for (int j = 0; j < run; j += W) store(dst + r * run + j, load(src + r * run + j) * g);
    }
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
