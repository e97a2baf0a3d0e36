# How the shipped libraries (liblayernorm4j, liblayernorm4j_cuda) are linked, so that one build runs on any
# x86-64 Linux with the glibc stated in the README:
#   - libstdc++ and libgcc linked in (-static-libstdc++ -static-libgcc): a user's system libstdc++ may be older
#     than the build host's (GLIBCXX_3.4.30 is gcc 12's); their symbols are not exported (--exclude-libs), and
#     --gc-sections drops the parts we never call (libstdc++'s random_device would otherwise need glibc 2.36's
#     arc4random). The static unwinder of gcc 12 calls _dl_find_object: with -static-libgcc the libraries need
#     glibc 2.35 (checked by GlibcVersionIT, stated in the README).
#   - stripped (-s) in Release / MinSizeRel builds.
#   - no RUNPATH: they need only libc/libm (and libdl/libpthread), never a folder of the build machine.
# LN4J_SHIPPED_LINK=OFF turns all of it off (debugging builds); sanitizer builds (LN4J_SANITIZE) never use it, the
# sanitizers' runtimes expect the shared libstdc++.
include_guard(GLOBAL)
option(LN4J_SHIPPED_LINK "Link the shipped libraries with static libstdc++/libgcc, stripped, without RUNPATH" ON)

function(ln4j_shipped_library target)
  set_target_properties(${target} PROPERTIES SKIP_BUILD_RPATH ON INSTALL_RPATH "")
  if(NOT LN4J_SHIPPED_LINK OR LN4J_SANITIZE OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux" OR NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    return()
  endif()
  target_link_options(${target} PRIVATE
    $<$<LINK_LANGUAGE:CXX>:-static-libstdc++;-static-libgcc>
    $<$<LINK_LANGUAGE:CUDA>:-Xcompiler=-static-libstdc++,-static-libgcc>
    LINKER:--exclude-libs,ALL
    LINKER:--gc-sections
    $<$<OR:$<CONFIG:Release>,$<CONFIG:MinSizeRel>>:LINKER:-s>)
endfunction()
