# Build options of the native part. Every option can be set with -D<name>=... on the cmake command line or
# through Maven: mvn -Dln4j.cuda=OFF ... (see pom.xml).
set(LN4J_CUDA "AUTO" CACHE STRING "Build the CUDA kernels: AUTO (if nvcc is found), ON (required), OFF (stub)")
set_property(CACHE LN4J_CUDA PROPERTY STRINGS AUTO ON OFF)
set(LN4J_CUDA_ARCHITECTURES "75-real;80-real;86-real;89-real;90-real;90-virtual"
    CACHE STRING "CUDA architectures to build (real code per listed GPU, PTX for the last)")
option(LN4J_BUILD_TESTS "Build the native kernel tests (ctest)" ON)
option(LN4J_BUILD_BENCH "Build the native benchmark harness" ON)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
# Only the C API is exported; each library keeps its own copy of the shared helpers.
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)

# Sanitizer builds of the native code and its tests (scripts/sanitize.sh asan|tsan runs them): asan =
# AddressSanitizer + UndefinedBehaviorSanitizer, tsan = ThreadSanitizer. C/C++ only (nvcc takes no -fsanitize).
set(LN4J_SANITIZE "" CACHE STRING "Sanitizer build: empty (none), asan (AddressSanitizer + UBSan) or tsan")
set_property(CACHE LN4J_SANITIZE PROPERTY STRINGS "" asan tsan)
if(LN4J_SANITIZE STREQUAL "asan")
  set(_ln4j_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
elseif(LN4J_SANITIZE STREQUAL "tsan")
  set(_ln4j_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT LN4J_SANITIZE STREQUAL "")
  message(FATAL_ERROR "LN4J_SANITIZE must be empty, asan or tsan, got '${LN4J_SANITIZE}'")
endif()
if(DEFINED _ln4j_san)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_ln4j_san}>")
  add_link_options(${_ln4j_san})
  message(STATUS "layernorm4j: sanitizer build (${LN4J_SANITIZE}): ${_ln4j_san}")
endif()
