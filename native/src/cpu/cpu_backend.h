// The CPU backend as the API layer sees it: ISA detection and the two entry points. Arguments arrive
// already checked (common/args.cpp); these functions only pick a path and run it.
#pragma once
#include "../common/args.h"

namespace ln4j::cpu {

int32_t isa_best();
bool isa_supported(int32_t isa);
const char* isa_name(int32_t isa);
const char* cpu_model();
int32_t default_threads();
int set_default_threads(int32_t threads);
// Pool helpers (besides the caller) for a call of `nblocks` blocks reading `bytes`: none below the inline size
// (a hand-off costs more than the work), else up to threads - 1 (0 = the default threads), at most nblocks - 1.
int helpers_for(int32_t threads, int64_t nblocks, int64_t bytes);

// exec.isa and exec.threads pick the path and the most threads; the other exec fields are not used here.
int forward(const ForwardArgs& a, const Exec& exec);
int backward(const BackwardArgs& a, const Exec& exec);

}  // namespace ln4j::cpu
