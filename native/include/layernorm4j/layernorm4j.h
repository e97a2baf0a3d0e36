/*
 * layernorm4j.h -- the whole contract between Java (JavaCPP bindings) and the native kernels.
 *
 * Layer normalization (Ba, Kiros, Hinton 2016) over the last `cols` elements of each of `rows` rows:
 *     mean = sum(x) / cols
 *     var  = sum((x - mean)^2) / cols            (biased; never E[x^2] - E[x]^2)
 *     rstd = 1 / sqrt(var + eps)
 *     xhat = (x - mean) * rstd
 *     y    = xhat * gamma + beta                 (gamma = 1, beta = 0 when absent)
 * Backward, with g = gamma (1 when absent):
 *     dx     = rstd * (g*dy - mean(g*dy) - xhat * mean(g*dy*xhat))
 *     dgamma = sum over rows of dy * xhat,   dbeta = sum over rows of dy
 * RMSNorm (Zhang, Sennrich 2019), norm = LN4J_NORM_RMS: rstd = 1/sqrt(mean(x^2) + eps), xhat = x * rstd,
 * y = xhat * gamma; no mean, no beta.
 *
 * Rules every function follows:
 *  - Errors travel as values: every call returns an ln4j_status; on failure ln4j_last_error() (per thread)
 *    holds a message naming the argument and the value. Native code never prints and never aborts.
 *  - Caller-provided outputs; a call allocates no output memory. A failed call writes nothing.
 *  - Layout: x, y, dy, dx are row-major [rows, cols], contiguous; gamma, beta, dgamma, dbeta are [cols];
 *    mean and rstd are [rows]. rows and cols are 64-bit: rows*cols above 2^31 works.
 *  - Dtypes: x, y, dy, dx, residual share `x_dtype`; gamma, beta, dgamma, dbeta share `param_dtype`
 *    (equal to x_dtype, or FLOAT32 for the 16-bit types); mean and rstd are FLOAT64 for FLOAT64 data,
 *    FLOAT32 otherwise (see ln4j_stats_dtype). Accumulation is FLOAT32 for every dtype but FLOAT64.
 *  - Deterministic: the same inputs give bitwise identical outputs for any thread count.
 *  - Optional pointers may be NULL: gamma, beta (affine off / no bias), mean and rstd in the forward
 *    (inference only), dgamma / dbeta in the backward (gradient not wanted), residual and residual_out.
 *  - A call is data: the arguments of one forward or backward and its execution (device, stream, ISA, threads,
 *    workspace) are structs with a size field, so an option is added here once and nowhere positional.
 *
 * The CPU functions live in liblayernorm4j, the CUDA ones in liblayernorm4j_cuda (a stub answering
 * LN4J_ERR_UNSUPPORTED "built without CUDA" where no CUDA toolkit was found). This header is host-only C:
 * CUDA streams travel as void*.
 */
#ifndef LAYERNORM4J_H
#define LAYERNORM4J_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LN4J_API __declspec(dllexport)
#else
#define LN4J_API __attribute__((visibility("default")))
#endif

#define LN4J_VERSION "0.1.0"

/* Status codes. */
#define LN4J_OK 0
#define LN4J_ERR_INVALID_ARGUMENT 1 /* a bad pointer, size, dtype or option: the message names it */
#define LN4J_ERR_UNSUPPORTED 2      /* valid request this build or machine cannot serve (ISA, CUDA, dtype) */
#define LN4J_ERR_OUT_OF_MEMORY 3    /* scratch memory could not be had */
#define LN4J_ERR_CUDA 4             /* a CUDA runtime error; the message has the CUDA error name */
#define LN4J_ERR_INTERNAL 5         /* a bug: please report the message */
#define LN4J_ERR_ZERO_GAMMA 6       /* backward from y where the applied gamma is 0: the message names the column */

/* Dtypes (same order as the Java enum DType). */
#define LN4J_FLOAT32 0
#define LN4J_FLOAT64 1
#define LN4J_BFLOAT16 2
#define LN4J_FLOAT16 3

/* Normalizations. */
#define LN4J_NORM_LAYER 0
#define LN4J_NORM_RMS 1

/* Flags (bitwise or). */
#define LN4J_FLAG_ZERO_CENTERED_GAMMA 1 /* gamma is applied as (1 + gamma), as in Gemma */
#define LN4J_FLAG_BACKWARD_FROM_OUTPUT 2 /* backward reads y in place of x (memory-saving backward) */

/* CPU instruction-set paths. */
#define LN4J_ISA_AUTO (-1)
#define LN4J_ISA_SCALAR 0
#define LN4J_ISA_AVX2 1
#define LN4J_ISA_AVX512 2

/* Devices (ln4j_exec.device): the CPU, or a CUDA device ordinal >= 0. */
#define LN4J_DEVICE_CPU (-1)

/* ---- one call, described as data ----------------------------------------------------------------------------
 * A call is two structs: what to compute (ln4j_forward_args or ln4j_backward_args) and where and how to run it
 * (ln4j_exec). Each struct starts with struct_size, which the caller sets to sizeof(the struct) as its header
 * declares it. Structs grow only at the end, and the zero value of a new field keeps the old behaviour, so a
 * library accepts any struct_size from the first version's size up to its own (missing fields read as 0) and
 * refuses a larger one (LN4J_ERR_UNSUPPORTED: the caller was built against a newer header).
 * Start from the *_init() functions below (all zero, struct_size set), then set what the call needs:
 *     ln4j_forward_args a = ln4j_forward_args_init();  a.x = ...;
 */

/* Forward. residual (optional): the call normalizes s = x + residual and, when residual_out is not NULL, writes
 * s there. mean must be NULL for RMSNorm; mean and rstd may be NULL (inference). */
typedef struct ln4j_forward_args {
  int32_t struct_size; /* sizeof(ln4j_forward_args) */
  int32_t norm;        /* LN4J_NORM_* */
  int32_t flags;       /* LN4J_FLAG_* (no backward flag) */
  int32_t x_dtype;     /* x, y, residual, residual_out */
  int32_t param_dtype; /* gamma, beta */
  int64_t rows;
  int64_t cols;
  double eps;
  const void* x;
  const void* residual; /* optional */
  const void* gamma;    /* optional */
  const void* beta;     /* optional (needs gamma) */
  void* y;
  void* residual_out; /* optional (needs residual) */
  void* mean;         /* optional; NULL for RMSNorm */
  void* rstd;         /* optional */
} ln4j_forward_args;

/* Backward. x is the forward's input (or s = x + residual for the fused forward); with
 * LN4J_FLAG_BACKWARD_FROM_OUTPUT it is the forward's output y instead (gamma, beta and rstd then reconstruct
 * xhat = (y - beta) / g'; mean is not read and may be NULL). Zero-gamma rule: where the applied gamma g' (gamma,
 * or 1 + gamma when zero-centred) is exactly 0, y = beta whatever x was, so xhat -- which dx and dgamma both
 * need -- cannot be rebuilt: such a call fails with LN4J_ERR_ZERO_GAMMA naming the first such column and writes
 * nothing (the backward from x is exact for any gamma). dresidual_out (optional): gradient flowing into s from
 * later blocks, added to dx. dx = d(x) = d(residual). dgamma / dbeta are NULL when not wanted. */
typedef struct ln4j_backward_args {
  int32_t struct_size; /* sizeof(ln4j_backward_args) */
  int32_t norm;        /* LN4J_NORM_* */
  int32_t flags;       /* LN4J_FLAG_* */
  int32_t x_dtype;     /* x (or y), dy, dx, dresidual_out */
  int32_t param_dtype; /* gamma, beta, dgamma, dbeta */
  int64_t rows;
  int64_t cols;
  const void* dy;
  const void* dresidual_out; /* optional */
  const void* x;             /* or y with LN4J_FLAG_BACKWARD_FROM_OUTPUT */
  const void* mean;          /* NULL for RMSNorm and for the backward from y */
  const void* rstd;
  const void* gamma; /* optional */
  const void* beta;  /* read only by the backward from y (optional there) */
  void* dx;
  void* dgamma; /* optional (needs gamma) */
  void* dbeta;  /* optional (needs gamma; never for RMSNorm) */
} ln4j_backward_args;

/* Where and how a call runs. Fields a backend does not use are ignored by it. */
typedef struct ln4j_exec {
  int32_t struct_size; /* sizeof(ln4j_exec) */
  int32_t device;      /* LN4J_DEVICE_CPU for ln4j_cpu_*; the CUDA device ordinal for ln4j_cuda_* */
  int32_t isa;         /* CPU: LN4J_ISA_* (AUTO = the best this CPU runs) */
  int32_t threads;     /* CPU: the most threads this call uses, 0 = the pool default (small problems run on the
                          calling thread whatever this says) */
  void* stream;        /* CUDA: cudaStream_t, NULL = the legacy default stream */
  void* workspace;     /* CUDA backward: device memory, 8-byte aligned, see ln4j_cuda_backward_workspace_bytes */
  int64_t workspace_bytes;
} ln4j_exec;

/* A struct with every field 0 (NULL) and struct_size set. */
static inline ln4j_forward_args ln4j_forward_args_init(void) {
  ln4j_forward_args a;
  memset(&a, 0, sizeof a);
  a.struct_size = (int32_t)sizeof a;
  return a;
}
static inline ln4j_backward_args ln4j_backward_args_init(void) {
  ln4j_backward_args a;
  memset(&a, 0, sizeof a);
  a.struct_size = (int32_t)sizeof a;
  return a;
}
/* The CPU (device = LN4J_DEVICE_CPU, isa = LN4J_ISA_AUTO, threads = 0 = the pool default). */
static inline ln4j_exec ln4j_exec_init(void) {
  ln4j_exec e;
  memset(&e, 0, sizeof e);
  e.struct_size = (int32_t)sizeof e;
  e.device = LN4J_DEVICE_CPU;
  e.isa = LN4J_ISA_AUTO;
  return e;
}

/* ---- library-wide ------------------------------------------------------------------------------------ */
LN4J_API const char* ln4j_version(void);
/* Message of the last failed call on this thread ("" if none). Valid until the next call on this thread. */
LN4J_API const char* ln4j_last_error(void);
/* Size in bytes of one element of a dtype, 0 for an unknown dtype. */
LN4J_API int32_t ln4j_dtype_size(int32_t dtype);
/* Dtype of mean and rstd for data of x_dtype (-1 for an unknown dtype). */
LN4J_API int32_t ln4j_stats_dtype(int32_t x_dtype);

/* ---- CPU ----------------------------------------------------------------------------------------------- */
/* The best ISA path this CPU runs (decided once from CPUID). */
LN4J_API int32_t ln4j_cpu_isa_best(void);
/* 1 if this CPU runs the path, 0 if not (or unknown isa). */
LN4J_API int32_t ln4j_cpu_isa_supported(int32_t isa);
/* "scalar", "avx2", "avx512"; "unknown" otherwise. */
LN4J_API const char* ln4j_cpu_isa_name(int32_t isa);
/* CPU model string from CPUID ("unknown" where not available). */
LN4J_API const char* ln4j_cpu_model(void);
/* Threads the pool uses when a call passes threads = 0 (the number of online processors by default). */
LN4J_API int32_t ln4j_cpu_default_threads(void);
/* Sets that default; 0 = the number of online processors again. */
LN4J_API int ln4j_cpu_set_default_threads(int32_t threads);
/* Streaming (non-temporal) stores of y, residual_out and dx: used when a call's footprint (bytes it reads and
 * writes) is at least this threshold, whose default is 3/4 of the last-level cache as the OS reports it (or the
 * environment variable LN4J_NT_THRESHOLD: bytes with an optional K/M/G suffix, "always" or "never"). Results are
 * the same bits either way. set: bytes >= 0 (0 = always; INT64_MAX = never), or -1 for the default again. */
LN4J_API int64_t ln4j_cpu_stream_threshold(void);
LN4J_API int ln4j_cpu_set_stream_threshold(int64_t bytes);
/* Software prefetches of the CPU kernels when a call's rows come from memory (its footprint passes the streaming
 * threshold). Machines disagree on which of them pay, so by default (-1, "auto") the library learns it per kind of
 * call (forward or backward, ISA path, bytes per row rounded down to a power of two, element size, threads used):
 * the first 29 calls past the threshold (one warm-up, then seven rounds of the four policies) are timed, and a
 * policy is kept instead of the default (3) when its median time over the default's in the same round is at least
 * 3% lower. Policy bits: backward 1 = pass 1 asks for the next pair of rows, 2 = pass 2 does, 3 = pass 1 asks for
 * the next pair's first row and pass 2 for its second; forward 1 = wide rows' centred sweep asks for row r+2,
 * 2 = rows further ahead (narrow rows up to 4 / 12 KiB, wide rows' write sweep row r+3). 0..3 fixes a policy for every call; -2 goes back to the environment variable LN4J_PREFETCH
 * ("auto" or 0..3), else auto. Results are the same bits under every policy. */
LN4J_API int32_t ln4j_cpu_prefetch_policy(void);
LN4J_API int ln4j_cpu_set_prefetch_policy(int32_t policy);
/* The policy such calls run now (backward: 1 or 0 for the forward; residual: 1 for a fused residual forward; isa:
 * an LN4J_ISA_* this CPU runs, or AUTO): the fixed setting, the learned one, -1 while still learning, -2 for
 * arguments that name no kind of call. */
LN4J_API int32_t ln4j_cpu_prefetch_choice(int32_t backward, int32_t residual, int64_t cols, int32_t dtype,
                                          int32_t isa, int32_t threads);

/* Forward and backward on the CPU: exec->device must be LN4J_DEVICE_CPU; exec->isa and exec->threads apply. */
LN4J_API int ln4j_cpu_forward(const ln4j_forward_args* args, const ln4j_exec* exec);
LN4J_API int ln4j_cpu_backward(const ln4j_backward_args* args, const ln4j_exec* exec);

/* ---- memory-bandwidth probes (for benchmarks; not needed to use the library) -----------------------------
 * The loops a benchmark's ceiling is timed with (native/bench's ln4j_bench, the CLI's bench, JMH): they move the
 * bytes a kernel moves on the threads the kernels run on (this library's pool, the same hand-out of blocks, no
 * hand-off below the kernels' inline size), in one of LN4J_BANDWIDTH_KINDS ways; an honest ceiling is the fastest
 * kind in the same run. copy: `bytes` bytes from src to dst (the forward's read one, write one). r2w1 (read two,
 * write one, the backward's): dst[i] = a[i] + b[i] over `bytes` bytes of floats in each (3 x bytes moved); its
 * MEMCPY kind copies 1.5 x bytes from a to dst instead (the same total), so a and dst must then hold 1.5 x bytes.
 * bytes: a multiple of 4, >= 0; the buffers must not overlap; threads: 0 = the default, else >= 1. */
#define LN4J_BANDWIDTH_ORDINARY 0          /* a loop with ordinary stores */
#define LN4J_BANDWIDTH_STREAM 1            /* the same loop with non-temporal (streaming) stores */
#define LN4J_BANDWIDTH_PREFETCHED 2        /* ordinary stores, every line asked for ahead (PREFETCHW for dst) */
#define LN4J_BANDWIDTH_STREAM_PREFETCHED 3 /* streaming stores, the sources' lines asked for ahead into L2 */
#define LN4J_BANDWIDTH_MEMCPY 4            /* the C library's memcpy, which picks its own stores */
#define LN4J_BANDWIDTH_KINDS 5
LN4J_API int ln4j_cpu_bandwidth_copy(int32_t kind, void* dst, const void* src, int64_t bytes, int32_t threads);
LN4J_API int ln4j_cpu_bandwidth_r2w1(int32_t kind, void* dst, const void* a, const void* b, int64_t bytes,
                                     int32_t threads);
/* "ordinary-store loop", "non-temporal-store loop", "prefetched ordinary-store loop", "prefetched
 * non-temporal-store loop", "memcpy"; "unknown" for any other kind. */
LN4J_API const char* ln4j_cpu_bandwidth_kind_name(int32_t kind);

/* ---- CUDA (liblayernorm4j_cuda) ------------------------------------------------------------------------ */
LN4J_API const char* ln4j_cuda_last_error(void);
/* 1 if this library was compiled with CUDA, 0 for the stub. */
LN4J_API int32_t ln4j_cuda_built(void);
/* Number of usable devices (0 on any failure); *reason gets a one-line reason when 0 (may be NULL). */
LN4J_API int32_t ln4j_cuda_device_count(const char** reason);
/* Workspace (device memory) that ln4j_cuda_backward needs for this call: the dgamma/dbeta partials and, with
 * LN4J_FLAG_BACKWARD_FROM_OUTPUT, the zero-gamma check, whose one-integer read-back makes that call wait for its
 * stream. 0 when args is NULL or rows or cols is below 1. */
LN4J_API int64_t ln4j_cuda_backward_workspace_bytes(const ln4j_backward_args* args);
/* Same meaning as the CPU functions; exec->device is the CUDA ordinal; asynchronous on exec->stream. */
LN4J_API int ln4j_cuda_forward(const ln4j_forward_args* args, const ln4j_exec* exec);
LN4J_API int ln4j_cuda_backward(const ln4j_backward_args* args, const ln4j_exec* exec);

#ifdef __cplusplus
}
#endif

#endif /* LAYERNORM4J_H */
