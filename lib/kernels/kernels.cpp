#include "kernels/kernels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include <omp.h>

#include "error.hpp"
#include "kernels/paths.hpp"

namespace effscale::kernels {

std::string_view to_string(Path path) {
  switch (path) {
    case Path::kAvx512: return "avx512";
    case Path::kAvx2: return "avx2";
    case Path::kPortable: return "portable";
  }
  return "?";
}

bool available(Path path) {
  switch (path) {
    case Path::kAvx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    case Path::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Path::kPortable: return true;
  }
  return false;
}

std::vector<Path> available_paths() {
  std::vector<Path> paths;
  for (Path p : {Path::kAvx512, Path::kAvx2, Path::kPortable})
    if (available(p)) paths.push_back(p);
  return paths;
}

Path best_path() { return available_paths().front(); }

Path best_path(int block) {
  for (Path p : available_paths())
    if (block % vector_width(p) == 0) return p;
  return Path::kPortable;
}

int vector_width(Path path) {
  switch (path) {
    case Path::kAvx512: return 16;
    case Path::kAvx2: return 8;
    case Path::kPortable: return 4;
  }
  return 1;
}

void pack_panels(Path path, const float* transposed, int inputs, int padded, float* panels) {
  const int w = vector_width(path);
  if (inputs < 0 || padded < 0 || padded % w != 0)
    throw Error(fmt::format("{} inputs x {} outputs cannot be cut into panels of {}-float vectors", inputs, padded, w));
  const int vectors = padded / w;
  for (int j = 0; j < vectors; j += kPanelVectors) {
    const int width = std::min(kPanelVectors, vectors - j) * w;
    float* panel = panels + static_cast<std::ptrdiff_t>(j) * w * inputs;
    for (int i = 0; i < inputs; ++i)
      std::copy_n(transposed + static_cast<std::ptrdiff_t>(i) * padded + static_cast<std::ptrdiff_t>(j) * w, width,
                  panel + static_cast<std::ptrdiff_t>(i) * width);
  }
}

namespace {

void check_block(Path path, int block) {
  if (!available(path)) throw Error(fmt::format("this CPU cannot run the {} kernels", to_string(path)));
  if (block < 1 || block % vector_width(path) != 0)
    throw Error(fmt::format("channel block {} is not a multiple of the {} kernels' vector width {}", block,
                            to_string(path), vector_width(path)));
}

// A sliding window's geometry (depthwise, stem): kernel and stride in 1..15, padding inside the
// kernel, every output row and column reading at least one input pixel.
template <class Shape>
void check_window(const Shape& s, const char* what) {
  if (s.kernel < 1 || s.kernel > 15 || s.stride < 1 || s.stride > 15)
    throw Error(fmt::format("{} kernel {} stride {}: the own kernels take 1..15", what, s.kernel, s.stride));
  if (s.batch < 1 || s.in_h < 1 || s.in_w < 1 || s.out_h < 1 || s.out_w < 1 || s.pad_top < 0 || s.pad_left < 0 ||
      s.pad_top >= s.kernel || s.pad_left >= s.kernel || (s.out_h - 1) * s.stride - s.pad_top >= s.in_h ||
      (s.out_w - 1) * s.stride - s.pad_left >= s.in_w)
    throw Error(fmt::format("inconsistent {} shape", what));
}

template <class Shape>
int window_padded_width(const Shape& s) {
  return (s.out_w - 1) * s.stride + s.kernel;
}

}  // namespace

int padded_width(const DepthwiseShape& s) { return window_padded_width(s); }
int padded_width(const StemShape& s) { return window_padded_width(s); }

void check(Path path, const DepthwiseShape& s) {
  check_block(path, s.block);
  check_window(s, "depthwise");
  if (s.blocks < 1) throw Error("inconsistent depthwise shape");
}

int depthwise_bands(const DepthwiseShape& s) {
  // At least 16 work items, so that two to eight threads stay busy on the small late layers.
  const int planes = s.batch * s.blocks;
  return std::clamp((16 + planes - 1) / planes, 1, s.out_h);
}

std::size_t partial_floats(const DepthwiseShape& s, int bands) {
  return static_cast<std::size_t>(s.batch) * s.blocks * bands * s.block;
}

int expand_bands(const DepthwiseShape& s, int threads) {
  return std::clamp((threads + s.batch - 1) / s.batch, 1, s.out_h);
}

std::size_t expand_ring_floats(const DepthwiseShape& s) {
  return static_cast<std::size_t>(s.kernel) * s.blocks * padded_width(s) * s.block;
}

void* aligned_bytes(std::size_t bytes) noexcept {
  if (bytes > SIZE_MAX - kAlignment) return nullptr;
  return std::aligned_alloc(kAlignment, round_to_alignment(bytes));
}

void AlignedDelete::operator()(void* p) const noexcept { std::free(p); }

float* thread_ring(std::size_t floats) {
  thread_local std::unique_ptr<float, AlignedDelete> ring;
  thread_local std::size_t held = 0;
  if (held < floats) {
    ring.reset(static_cast<float*>(aligned_bytes(floats * sizeof(float))));
    held = ring ? floats : 0;
  }
  return ring.get();
}

bool expand_fits(Path, const DepthwiseShape& s) { return expand_ring_floats(s) * sizeof(float) <= kMaxRingBytes; }

std::size_t depthwise_scratch_floats(const DepthwiseShape& s) { return partial_floats(s, depthwise_bands(s)); }

std::size_t depthwise_se_scratch_floats(const DepthwiseShape& s, const SeShape& se) {
  return depthwise_scratch_floats(s) + static_cast<std::size_t>(s.batch) * (se.padded + se.squeezed);
}

std::size_t expand_depthwise_scratch_floats(Path, const DepthwiseShape& s, const SeShape* se) {
  const std::size_t padded = static_cast<std::size_t>(s.blocks) * s.block;
  return static_cast<std::size_t>(s.batch) * ((s.out_h + 1) * padded + (se ? se->squeezed : 0));
}

void depthwise(Path path, const DepthwiseShape& shape, const float* src, const float* weights, const float* bias,
               float* dst, float* scratch) {
  depthwise_se(path, shape, nullptr, src, weights, bias, dst, nullptr, nullptr, scratch);
}

void depthwise_se(Path path, const DepthwiseShape& shape, const SeShape* se, const float* src, const float* weights,
                  const float* bias, float* dst, const SeWeights* sw, float* gate, float* scratch) {
  switch (path) {
    case Path::kAvx512: return avx512::depthwise_se(shape, se, src, weights, bias, dst, sw, gate, scratch);
    case Path::kAvx2: return avx2::depthwise_se(shape, se, src, weights, bias, dst, sw, gate, scratch);
    case Path::kPortable: return portable::depthwise_se(shape, se, src, weights, bias, dst, sw, gate, scratch);
  }
}

void expand_depthwise(Path path, const DepthwiseShape& shape, const ExpandShape& e, const float* src,
                      const float* expand_weights, const float* expand_bias, const float* weights, const float* bias,
                      float* dst, const SeShape* se, const SeWeights* sw, float* gate, float* scratch,
                      const Projection* project) {
  if (project && se) throw Error("expand_depthwise: a projection cannot follow an SE path");
  if (project && (project->out_channels < 0 || project->out_channels > project->out_blocks * shape.block))
    throw Error("expand_depthwise: the projection's real output channels exceed its blocks");
  const int threads = std::max(1, omp_get_max_threads());
  switch (path) {
    case Path::kAvx512:
      return avx512::expand_depthwise(shape, e, src, expand_weights, expand_bias, weights, bias, dst, se, sw, gate,
                                      scratch, threads, project);
    case Path::kAvx2:
      return avx2::expand_depthwise(shape, e, src, expand_weights, expand_bias, weights, bias, dst, se, sw, gate,
                                    scratch, threads, project);
    case Path::kPortable:
      return portable::expand_depthwise(shape, e, src, expand_weights, expand_bias, weights, bias, dst, se, sw, gate,
                                        scratch, threads, project);
  }
}

void check(Path path, const PointwiseShape& s) {
  check_block(path, s.block);
  if (s.batch < 1 || s.in_channels < 1 || s.in_blocks * s.block < s.in_channels || s.out_blocks < 1 || s.pixels < 1)
    throw Error("inconsistent pointwise shape");
  if (s.activation == Activation::kSigmoid)
    throw Error("the own pointwise kernel takes activations that map 0 to 0, not sigmoid");
}

void pointwise(Path path, const PointwiseShape& shape, const float* src, const float* weights, const float* bias,
               float* dst) {
  switch (path) {
    case Path::kAvx512: return avx512::pointwise(shape, src, weights, bias, dst);
    case Path::kAvx2: return avx2::pointwise(shape, src, weights, bias, dst);
    case Path::kPortable: return portable::pointwise(shape, src, weights, bias, dst);
  }
}

void check(Path path, const StemShape& s) {
  check_block(path, s.block);
  check_window(s, "stem");
  if (s.channels < 1 || s.out_blocks < 1) throw Error("inconsistent stem shape");
  if (s.activation == Activation::kSigmoid)
    throw Error("the own stem kernel takes activations that map 0 to 0, not sigmoid");
  const std::int64_t band = std::int64_t{s.channels} * s.kernel * padded_width(s);
  if (band > kStemFloats)
    throw Error(fmt::format("stem input band of {} floats (channels x kernel x padded width): the own kernel takes "
                            "at most {}", band, kStemFloats));
  const std::int64_t taps = std::int64_t{s.channels} * s.kernel * s.kernel;
  if (taps > kStemMaxTaps)
    throw Error(fmt::format("stem of {} taps (channels x kernel x kernel): the own kernel takes at most {}", taps,
                            kStemMaxTaps));
}

void stem(Path path, const StemShape& shape, const float* src, const float* weights, const float* bias, float* dst) {
  switch (path) {
    case Path::kAvx512: return avx512::stem(shape, src, weights, bias, dst);
    case Path::kAvx2: return avx2::stem(shape, src, weights, bias, dst);
    case Path::kPortable: return portable::stem(shape, src, weights, bias, dst);
  }
}

int classifier_row(const ClassifierShape& s) { return (s.in_channels + 15) / 16 * 16; }

void check(Path path, const ClassifierShape& s) {
  check_block(path, s.block);
  if (s.batch < 1 || s.in_channels < 1 || s.in_blocks * s.block < s.in_channels || s.pixels < 1 || s.outputs < 1)
    throw Error("inconsistent classifier shape");
}

namespace {

// Panels of kPanelVectors vectors of the head's output channels.
int head_panels(Path path, const HeadClassifierShape& s) {
  const int vectors = s.head.out_blocks * s.head.block / vector_width(path);
  return (vectors + kPanelVectors - 1) / kPanelVectors;
}

}  // namespace

int head_classifier_outputs(const HeadClassifierShape& s) { return (s.outputs + 15) / 16 * 16; }

std::size_t head_pooled_at(const HeadClassifierShape& s, int width) {
  const int b = s.head.block;
  const std::size_t blocks = static_cast<std::size_t>((kPanelVectors * width + b - 1) / b);
  return round_to_alignment(blocks * b * static_cast<std::size_t>(s.head.pixels) * sizeof(float)) / sizeof(float);
}

std::size_t head_classifier_buffer_floats(Path path, const HeadClassifierShape& s) {
  return head_pooled_at(s, vector_width(path)) + static_cast<std::size_t>(kPanelVectors) * vector_width(path);
}

void check(Path path, const HeadClassifierShape& s) {
  check(path, s.head);
  if (s.outputs < 1 || s.channels < 1 || s.channels > s.head.out_blocks * s.head.block)
    throw Error("inconsistent head and classifier shape");
  if (head_classifier_buffer_floats(path, s) * sizeof(float) > kMaxRingBytes)
    throw Error(fmt::format("a head map of {} pixels is too large for the fused head and classifier", s.head.pixels));
}

void pack_head_classifier(const HeadClassifierShape& s, const float* fc, float* packed) {
  const int padded = s.head.out_blocks * s.head.block, rows = head_classifier_outputs(s);
  for (int c = 0; c < padded; ++c)
    for (int o = 0; o < rows; ++o)
      packed[static_cast<std::size_t>(c) * rows + o] =
          c < s.channels && o < s.outputs ? fc[static_cast<std::size_t>(o) * s.channels + c] : 0.0f;
}

std::size_t head_classifier_scratch_floats(Path path, const HeadClassifierShape& s) {
  return static_cast<std::size_t>(s.head.batch) * head_panels(path, s) * head_classifier_outputs(s);
}

void head_classifier(Path path, const HeadClassifierShape& shape, const float* src, const float* head_weights,
                     const float* head_bias, const float* fc_weights, const float* fc_bias, float* dst, float* scratch) {
  switch (path) {
    case Path::kAvx512:
      return avx512::head_classifier(shape, src, head_weights, head_bias, fc_weights, fc_bias, dst, scratch);
    case Path::kAvx2:
      return avx2::head_classifier(shape, src, head_weights, head_bias, fc_weights, fc_bias, dst, scratch);
    case Path::kPortable:
      return portable::head_classifier(shape, src, head_weights, head_bias, fc_weights, fc_bias, dst, scratch);
  }
}

void classifier(Path path, const ClassifierShape& shape, const float* src, const float* weights, const float* bias,
                float* dst, float* scratch) {
  switch (path) {
    case Path::kAvx512: return avx512::classifier(shape, src, weights, bias, dst, scratch);
    case Path::kAvx2: return avx2::classifier(shape, src, weights, bias, dst, scratch);
    case Path::kPortable: return portable::classifier(shape, src, weights, bias, dst, scratch);
  }
}

void scale_runs(Path path, const float* src, float* dst, std::size_t runs, int run, const int* channel,
                const float* gate) {
  switch (path) {
    case Path::kAvx512: return avx512::scale_runs(src, dst, runs, run, channel, gate);
    case Path::kAvx2: return avx2::scale_runs(src, dst, runs, run, channel, gate);
    case Path::kPortable: return portable::scale_runs(src, dst, runs, run, channel, gate);
  }
}

}  // namespace effscale::kernels
