// The avx2 kernel path (8 floats a vector); its instruction-set flags are in lib/CMakeLists.txt.
#define EFFSCALE_KERNEL_PATH avx2
#define EFFSCALE_VECTOR_WIDTH 8
#include "kernels/kernels_impl.hpp"
