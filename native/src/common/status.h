// Per-thread error message and the helpers that set it, shared by the CPU and the CUDA library. Native code never
// prints or aborts: a failing check records a message naming the argument and the value, and the call returns the
// status.
#pragma once
#include <cstdarg>
#include <cstdint>

#include "layernorm4j/layernorm4j.h"

namespace ln4j {

// Records a printf-style message for this thread and returns `status`.
int fail(int status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Clears this thread's message (called at the start of every API call).
void clear_error();
const char* last_error();

}  // namespace ln4j
