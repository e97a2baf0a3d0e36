// The CUDA kernels of src/cuda compiled by the host compiler for the CPU emulation test.
#include "cuda/backward.cu"
