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

function(ln4j_isa_source isa)
  foreach(src ${ARGN})
    set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${LN4J_FLAGS_${isa}}")
  endforeach()
endfunction()
