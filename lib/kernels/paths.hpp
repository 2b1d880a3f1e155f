#pragma once
// The entry points of each kernel path (kernels_impl.hpp, one translation unit per path); only
// kernels.cpp dispatches to them.

#include <cstddef>

#include "kernels/kernels.hpp"

#define EFFSCALE_DECLARE_KERNEL_PATH(ns)                                                                    \
  namespace effscale::kernels::ns {                                                                       \
  void depthwise(const DepthwiseShape& shape, const float* src, const float* weights, const float* bias,  \
                 float* dst, float* scratch);                                                               \
  void depthwise_se(const DepthwiseShape& shape, const SeShape& se, const float* src, const float* weights, \
                    const float* bias, float* dst, const SeWeights& se_weights, float* gate, float* scratch); \
  void scale_runs(const float* src, float* dst, std::size_t runs, int run, const int* channel,             \
                  const float* gate);                                                                       \
  }

EFFSCALE_DECLARE_KERNEL_PATH(avx512)
EFFSCALE_DECLARE_KERNEL_PATH(avx2)
EFFSCALE_DECLARE_KERNEL_PATH(portable)

namespace effscale::kernels {

/// Depthwise work items (image x channel block x band of output rows): a function of the shape
/// alone, so that the channel sums add up in the same order for any thread count.
int depthwise_bands(const DepthwiseShape& shape);

/// Floats of the bands' partial channel sums (the start of every depthwise scratch buffer).
std::size_t depthwise_partial_floats(const DepthwiseShape& shape);

}  // namespace effscale::kernels
