# Decides what liblayernorm4j_cuda is, from LN4J_CUDA (declared in Ln4jOptions.cmake):
#   AUTO  real CUDA library if check_language(CUDA) finds nvcc, else the stub
#   ON    real CUDA library; configuring fails without nvcc
#   OFF   the stub ("built without CUDA")
# Sets LN4J_CUDA_ENABLED (ON/OFF) and, when ON, enables the CUDA language with the architectures of
# LN4J_CUDA_ARCHITECTURES (nvcc 13 knows sm_75 and newer only; "native" needs a GPU at build time).
include(CheckLanguage)

set(LN4J_CUDA_ENABLED OFF)
string(TOUPPER "${LN4J_CUDA}" _ln4j_cuda_mode)
if(NOT _ln4j_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "LN4J_CUDA must be AUTO, ON or OFF, got '${LN4J_CUDA}'")
endif()

if(NOT _ln4j_cuda_mode STREQUAL "OFF")
  # enable_language(CUDA) compiles a test program for CMAKE_CUDA_ARCHITECTURES: give it ours, not a default.
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES "${LN4J_CUDA_ARCHITECTURES}")
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    set(LN4J_CUDA_ENABLED ON)
  elseif(_ln4j_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "LN4J_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER or use LN4J_CUDA=AUTO")
  endif()
endif()

if(LN4J_CUDA_ENABLED)
  message(STATUS "layernorm4j: CUDA kernels ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${LN4J_CUDA_ARCHITECTURES})")
else()
  message(STATUS "layernorm4j: CUDA kernels OFF (LN4J_CUDA=${LN4J_CUDA}): liblayernorm4j_cuda is the stub")
endif()
