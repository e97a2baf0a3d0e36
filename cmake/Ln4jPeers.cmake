# Optional benchmark peers, found so that they can never break the configure.
#
# oneDNN: Debian 12's libdnnl-dev ships a dnnl-config.cmake that calls find_package(OpenCL) as a REQUIRED
# dependency, so find_package(dnnl CONFIG) stops the whole configure where the OpenCL development files are
# absent, although dnnl.hpp and libdnnl.so work without them. We never run that config file: we look for the
# header and the library, then prove with a tiny test program that they compile and link together.
# Result: an IMPORTED target ln4j::onednn (when usable) and LN4J_ONEDNN_VERSION; otherwise LN4J_ONEDNN_WHY.
include_guard(GLOBAL)
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)

option(LN4J_WITH_ONEDNN "Look for oneDNN as a benchmark peer (optional; libdnnl-dev)" ON)

function(ln4j_find_onednn)
  if(TARGET ln4j::onednn)
    return()
  endif()
  if(NOT LN4J_WITH_ONEDNN)
    set(LN4J_ONEDNN_WHY "LN4J_WITH_ONEDNN=OFF" PARENT_SCOPE)
    return()
  endif()
  find_path(LN4J_ONEDNN_INCLUDE_DIR NAMES dnnl.hpp)
  find_library(LN4J_ONEDNN_LIBRARY NAMES dnnl)
  if(NOT LN4J_ONEDNN_INCLUDE_DIR OR NOT LN4J_ONEDNN_LIBRARY)
    set(LN4J_ONEDNN_WHY "dnnl.hpp or libdnnl not found (install libdnnl-dev)" PARENT_SCOPE)
    return()
  endif()
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_INCLUDES "${LN4J_ONEDNN_INCLUDE_DIR}")
  set(CMAKE_REQUIRED_LIBRARIES "${LN4J_ONEDNN_LIBRARY}")
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_source_compiles([[
    #include <dnnl.hpp>
    int main() { dnnl::engine e(dnnl::engine::kind::cpu, 0); return (int)dnnl_version()->major - DNNL_VERSION_MAJOR; }
  ]] LN4J_ONEDNN_LINKS)
  cmake_pop_check_state()
  if(NOT LN4J_ONEDNN_LINKS)
    set(LN4J_ONEDNN_WHY "${LN4J_ONEDNN_LIBRARY} does not link with ${LN4J_ONEDNN_INCLUDE_DIR}/dnnl.hpp" PARENT_SCOPE)
    return()
  endif()
  set(version "")
  foreach(header IN ITEMS oneapi/dnnl/dnnl_version.h dnnl_version.h)
    if(EXISTS "${LN4J_ONEDNN_INCLUDE_DIR}/${header}")
      file(STRINGS "${LN4J_ONEDNN_INCLUDE_DIR}/${header}" lines REGEX "#define DNNL_VERSION_(MAJOR|MINOR|PATCH) ")
      foreach(line IN LISTS lines)
        string(REGEX REPLACE ".*DNNL_VERSION_[A-Z]+ +([0-9]+).*" "\\1" part "${line}")
        list(APPEND version "${part}")
      endforeach()
      list(JOIN version "." version)
      break()
    endif()
  endforeach()
  add_library(ln4j::onednn UNKNOWN IMPORTED GLOBAL)
  set_target_properties(ln4j::onednn PROPERTIES
    IMPORTED_LOCATION "${LN4J_ONEDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LN4J_ONEDNN_INCLUDE_DIR}")
  set(LN4J_ONEDNN_VERSION "${version}" PARENT_SCOPE)
endfunction()

# PyTorch (libtorch, C++): the harness's second peer calls at::native_layer_norm and its backward. Debian's
# libtorch-dev puts ATen's headers under /usr/include and libtorch_cpu/libc10 in the library path; its
# TorchConfig.cmake (when present) drags in CUDA/Python lookups, so it is never run either: header + libraries
# + a small link test (ATen/Parallel.h, light to compile). Result: an IMPORTED target ln4j::torch (when usable)
# and LN4J_TORCH_VERSION; otherwise LN4J_TORCH_WHY.
option(LN4J_WITH_TORCH "Look for libtorch as a benchmark peer (optional; libtorch-dev)" ON)

function(ln4j_find_pytorch)
  if(TARGET ln4j::torch)
    return()
  endif()
  if(NOT LN4J_WITH_TORCH)
    set(LN4J_TORCH_WHY "LN4J_WITH_TORCH=OFF" PARENT_SCOPE)
    return()
  endif()
  find_path(LN4J_TORCH_INCLUDE_DIR NAMES ATen/ops/native_layer_norm.h)
  find_library(LN4J_TORCH_CPU_LIBRARY NAMES torch_cpu)
  find_library(LN4J_TORCH_C10_LIBRARY NAMES c10)
  if(NOT LN4J_TORCH_INCLUDE_DIR OR NOT LN4J_TORCH_CPU_LIBRARY OR NOT LN4J_TORCH_C10_LIBRARY)
    set(LN4J_TORCH_WHY "ATen/ops/native_layer_norm.h, libtorch_cpu or libc10 not found (install libtorch-dev)" PARENT_SCOPE)
    return()
  endif()
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_INCLUDES "${LN4J_TORCH_INCLUDE_DIR}")
  set(CMAKE_REQUIRED_LIBRARIES "${LN4J_TORCH_CPU_LIBRARY};${LN4J_TORCH_C10_LIBRARY}")
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_source_compiles([[
    #include <ATen/Parallel.h>
    int main() { return at::get_num_threads() > 0 ? 0 : 1; }
  ]] LN4J_TORCH_LINKS)
  cmake_pop_check_state()
  if(NOT LN4J_TORCH_LINKS)
    set(LN4J_TORCH_WHY "${LN4J_TORCH_CPU_LIBRARY} does not link with ${LN4J_TORCH_INCLUDE_DIR}/ATen" PARENT_SCOPE)
    return()
  endif()
  set(version "")
  if(EXISTS "${LN4J_TORCH_INCLUDE_DIR}/torch/csrc/api/include/torch/version.h")
    file(STRINGS "${LN4J_TORCH_INCLUDE_DIR}/torch/csrc/api/include/torch/version.h" lines
         REGEX "#define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE ".*TORCH_VERSION_[A-Z]+ +([0-9]+).*" "\\1" part "${line}")
      list(APPEND version "${part}")
    endforeach()
    list(JOIN version "." version)
  endif()
  add_library(ln4j::torch INTERFACE IMPORTED GLOBAL)
  set_target_properties(ln4j::torch PROPERTIES
    INTERFACE_LINK_LIBRARIES "${LN4J_TORCH_CPU_LIBRARY};${LN4J_TORCH_C10_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LN4J_TORCH_INCLUDE_DIR}")
  set(LN4J_TORCH_VERSION "${version}" PARENT_SCOPE)
endfunction()
