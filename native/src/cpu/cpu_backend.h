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

int forward(int32_t isa, int32_t threads, const ForwardArgs& a);
int backward(int32_t isa, int32_t threads, const BackwardArgs& a);

}  // namespace ln4j::cpu
