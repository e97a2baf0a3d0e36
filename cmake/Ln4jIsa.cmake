# Per-file instruction-set flags. Only the files named here are compiled with -mavx2 / -mavx512*, so the
# library as a whole runs on any x86-64 CPU; the path is chosen at run time from CPUID.
# -ffp-contract=off: the kernels place every fused multiply-add themselves (V::fma); GCC would otherwise also fuse
# a product into a following add or subtract (intrinsics included), keeping a product unrounded where the formula
# rounds it: with one column, dx = rstd * (g*dy - mean(g*dy)) then came out as +-rstd * rounding(g*dy), not 0.
set(LN4J_FLAGS_SCALAR "-ffp-contract=off")
set(LN4J_FLAGS_AVX2 "-mavx2;-mfma;-mf16c;-ffp-contract=off")
set(LN4J_FLAGS_AVX512 "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx2;-mfma;-mf16c;-ffp-contract=off")
# GCC 12's own AVX-512 intrinsic headers trip -W(maybe-)uninitialized (_mm512_undefined_*): silence them there.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND LN4J_FLAGS_AVX512 "-Wno-uninitialized;-Wno-maybe-uninitialized")
endif()

# Library size: the kernels are one template instantiated per (dtype pair x variant x ISA), 5.9 MB of the 6.1 MB
# liblayernorm4j.so at -O3. Release builds compile the float32 SIMD kernels (cpu_avx2.cpp, cpu_avx512.cpp: the hot
# path) with the library's -O3 as before, and the scalar fallback and the float64/bfloat16/float16 SIMD kernels
# (cpu_*_more.cpp, see native/src/cpu/cpu_kernels.h) with LN4J_SIZE_FLAGS (-Os: about half the code of -O3;
# measured with gcc 12, code bytes: scalar 1.42 -> 0.69 MB, AVX2 non-float32 1.72 -> 0.78 MB (-O2: 1.41 MB),
# AVX-512 non-float32 0.80 MB; the library 6.1 -> 3.4 MB). The flags change no result bits (no fast-math;
# -ffp-contract=off stays): only code size and, possibly, the speed of those paths. -DLN4J_SIZE_FLAGS=-O3 (e.g.
# through -Dln4j.cmake.args) gives the old flags back.
set(LN4J_SIZE_FLAGS "-Os" CACHE STRING "Release flags of the scalar path and the non-float32 SIMD kernels")
set(_ln4j_size "$<$<CONFIG:Release>:${LN4J_SIZE_FLAGS}>")
list(APPEND LN4J_FLAGS_SCALAR "${_ln4j_size}")
set(LN4J_FLAGS_AVX2_MORE ${LN4J_FLAGS_AVX2} "${_ln4j_size}")
set(LN4J_FLAGS_AVX512_MORE ${LN4J_FLAGS_AVX512} "${_ln4j_size}")

function(ln4j_isa_source isa)
  foreach(src ${ARGN})
    set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${LN4J_FLAGS_${isa}}")
  endforeach()
endfunction()
