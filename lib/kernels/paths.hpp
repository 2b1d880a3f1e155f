#pragma once
// The entry points of each kernel path (kernels_impl.hpp, one translation unit per path); only
// kernels.cpp dispatches to them.

#include <cstddef>

#include "kernels/kernels.hpp"

#define EFFSCALE_DECLARE_KERNEL_PATH(ns)                                                                    \
  namespace effscale::kernels::ns {                                                                       \
  void depthwise_se(const DepthwiseShape& shape, const SeShape* se, const float* src, const float* weights, \
                    const float* bias, float* dst, const SeWeights* se_weights, float* gate, float* scratch); \
  void expand_depthwise(const DepthwiseShape& shape, const ExpandShape& e, const float* src,                \
                        const float* expand_weights, const float* expand_bias, const float* weights,          \
                        const float* bias, float* dst, const SeShape* se, const SeWeights* se_weights,        \
                        float* gate, float* scratch, int threads, const Projection* project);                 \
  void pointwise(const PointwiseShape& shape, const float* src, const float* weights, const float* bias,  \
                 float* dst);                                                                              \
  void scale_runs(const float* src, float* dst, std::size_t runs, int run, const int* channel,             \
                  const float* gate);                                                                       \
  void stem(const StemShape& shape, const float* src, const float* weights, const float* bias, float* dst); \
  void classifier(const ClassifierShape& shape, const float* src, const float* weights, const float* bias,   \
                  float* dst, float* scratch);                                                            \
  void head_classifier(const HeadClassifierShape& shape, const float* src, const float* head_weights,       \
                       const float* head_bias, const float* fc_weights, const float* fc_bias, float* dst,    \
                       float* scratch);                                                                   \
  }

EFFSCALE_DECLARE_KERNEL_PATH(avx512)
EFFSCALE_DECLARE_KERNEL_PATH(avx2)
EFFSCALE_DECLARE_KERNEL_PATH(portable)

namespace effscale::kernels {

/// Depthwise work items (image x channel block x band of output rows): a function of the shape
/// alone, so that the channel sums add up in the same order for any thread count.
int depthwise_bands(const DepthwiseShape& shape);

/// Width in pixels of a zero-padded input row that a row of output pixels is convolved from: every
/// column the windows reach. (Defined in kernels.cpp, not inline: see kernels_impl.hpp.)
int padded_width(const DepthwiseShape& shape);
int padded_width(const StemShape& shape);

/// Floats of the bands' partial channel sums (the start of every depthwise scratch buffer).
std::size_t partial_floats(const DepthwiseShape& shape, int bands);

/// Work items of the fused expand + depthwise kernel per image: bands of consecutive output rows,
/// one per thread when there are fewer images than threads (each band expands the rows its
/// window shares with the previous band again).
int expand_bands(const DepthwiseShape& shape, int threads);

/// The calling thread's own ring buffer of at least `floats` floats (64-byte aligned), allocated
/// by that thread and kept by it between calls; null when the allocation fails (it is called
/// inside a parallel region, which an exception must not leave). The rings were slices of one
/// std::vector the calling thread kept, 16 bytes off the cache line: MobileNetV2's 112x112 16->96
/// k3 s2 step alone measured 0.35 ms with 1 thread and 0.19-0.33 with 2, against 0.30 and
/// 0.16-0.21 with each thread's own aligned ring (bench/PERFORMANCE_NOTES.md, fifth sitting).
float* thread_ring(std::size_t floats);

/// Where the pooled panel starts in a thread's buffer of head_classifier: after one panel of head
/// outputs in the activation's blocks ([blocks][pixels][block], vector v of the panel in block
/// v x width / block at lane v x width % block), rounded up to a cache line. `width`: the path's
/// vector width. The buffer is this plus kPanelVectors x width floats.
std::size_t head_pooled_at(const HeadClassifierShape& shape, int width);

/// Floats of one thread's ring of expanded rows in the fused kernel: `kernel` zero-padded rows of
/// every channel block, [kernel][blocks][padded_width][block].
std::size_t expand_ring_floats(const DepthwiseShape& shape);

}  // namespace effscale::kernels
