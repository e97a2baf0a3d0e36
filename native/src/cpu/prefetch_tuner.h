// Which software prefetches the CPU kernels issue when a call's rows come from memory (its footprint passes the
// streaming threshold, cache_info.h), learned at run time per kind of call.
//
// Why measured and not decided: machines disagree, and nothing the code can query predicts which way. The
// backward's two prefetches of the next pair of rows (pass 1 as it sweeps, pass 2 one line per line it computes),
// A/B in one process over rotating buffers, 1 thread: on AMD EPYC Zen 4 pass 1's took 0.75-0.84x the time at
// 256-16384 columns; on AMD EPYC Zen 3 (family 25 model 1) leaving pass 1's out took 0.85x at 256 columns and
// leaving both out 0.81x at 16384 and 0.91x at 4096, while at 768 columns both were needed (1.40x without).
// The wide-row forward's prefetch of row r+2 during its centred sweep: Zen 4 0.71-0.75x the time with it, Zen 3
// 0.87-0.94x without it.
// The same CPU's own ceiling loops agree: there the non-temporal loop with software prefetches moved 0.81x the
// bytes of the one without, on Zen 4 more.
//
// How: per key (kind of call, ISA path, bytes per row rounded down to a power of two, element size, workers), the
// first 28 calls past the threshold after one warm-up call run the policies in turn (round robin, seven rounds)
// and report their time per byte; each policy is compared with the default in the same round, and the one whose
// median ratio is lowest is kept for the rest of the process if it beats the default by 3% (else the default).
// A policy only chooses prefetch instructions, never an arithmetic operation: every result bit is the same
// whichever policy runs (ln4j_test_cpu checks it by forcing each). Overridable: LN4J_PREFETCH ("auto" or a
// policy number) read at first use, and ln4j_cpu_set_prefetch_policy.
#pragma once
#include <cstdint>

namespace ln4j::cpu {

// Backward policy bits.
constexpr int32_t kPfBwdAhead = 1;  // pass 1 asks for the next pair's x and dy (into L2) as it sweeps its pair
constexpr int32_t kPfBwdNext = 2;   // pass 2 asks for the next pair's x and dy, one line per line it computes
// Both (3): spread, pass 1 asks for the next pair's first row and pass 2 for its second (row_kernels.inl).
// Forward policy bits (both only past the threshold).
constexpr int32_t kPfFwdCentred = 1;  // wide rows: the centred sweep asks for row r+2 ahead of its write sweep
constexpr int32_t kPfFwdAhead = 2;    // narrow rows: up to 4 rows / 12 KiB further ahead; wide: the write sweep row r+3
constexpr int32_t kPfPolicies = 4;  // policies 0..3
constexpr int32_t kPfDefault = 3;   // every prefetch (what the kernels did before the choice was measured)

enum class PfKind : int32_t { kBackward = 0, kForward = 1 };

// -1: auto (learn per key); 0..kPfPolicies-1: that policy for every call.
int32_t prefetch_setting();
// policy -1 = auto, 0..3 = fixed; anything below -1 = the environment's choice again (LN4J_PREFETCH, else auto).
void set_prefetch_setting(int32_t policy);

// One call's policy and, while its key is learning, the trial slot whose time the call reports (else -1).
struct PfTrial {
  int32_t policy;
  int32_t slot;
  int32_t key;
};
// isa: the path that runs (LN4J_ISA_SCALAR, _AVX2 or _AVX512, not AUTO).
PfTrial prefetch_begin(PfKind kind, int32_t isa, int64_t row_bytes, int32_t esize, int32_t workers);
// ns_per_byte: the call's wall time over its bytes; infinity when it did not finish.
void prefetch_end(const PfTrial& t, double ns_per_byte);
// The policy such calls run now: the fixed setting, the learned one, or -1 while the key is still learning.
int32_t prefetch_choice(PfKind kind, int32_t isa, int64_t row_bytes, int32_t esize, int32_t workers);

}  // namespace ln4j::cpu
