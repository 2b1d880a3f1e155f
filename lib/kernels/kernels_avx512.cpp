// The avx512 kernel path (16 floats a vector); its instruction-set flags are in lib/CMakeLists.txt.
#define EFFSCALE_KERNEL_PATH avx512
#define EFFSCALE_VECTOR_WIDTH 16
#include "kernels/kernels_impl.hpp"
