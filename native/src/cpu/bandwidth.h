// Memory-bandwidth probes behind ln4j_cpu_bandwidth_* (bandwidth.cpp): the loops benchmark ceilings are timed with.
// Arguments arrive checked by the API layer.
#pragma once
#include <cstdint>

#include "layernorm4j/layernorm4j.h"

namespace ln4j::cpu {

const char* bandwidth_kind_name(int32_t kind);
void bandwidth_copy(int32_t kind, void* dst, const void* src, int64_t bytes, int32_t threads);
void bandwidth_r2w1(int32_t kind, void* dst, const void* a, const void* b, int64_t bytes, int32_t threads);

}  // namespace ln4j::cpu
