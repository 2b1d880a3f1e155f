// The portable kernel path (4 floats a vector); its instruction-set flags are in lib/CMakeLists.txt.
#define EFFSCALE_KERNEL_PATH portable
#define EFFSCALE_VECTOR_WIDTH 4
#include "kernels/kernels_impl.hpp"
