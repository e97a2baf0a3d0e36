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
