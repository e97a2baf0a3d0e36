// The AVX2 kernels of float64, bfloat16 and float16 data: cpu_avx2.cpp compiled a second time, so that they get
// their own optimisation flags (cmake/Ln4jIsa.cmake) while the float32 kernels keep the library's (see cpu_kernels.h).
#define LN4J_CPU_MORE_DTYPES 1
#include "cpu_avx2.cpp"
