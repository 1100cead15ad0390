#pragma once
// GP_HD marks functions compiled for host and device (NanoVDB's __hostdev__ model):
// nvcc sees __host__ __device__, g++ sees plain inline functions.

#if defined(__CUDACC__)
#define GP_HD __host__ __device__
#else
#define GP_HD
#endif

// GP_INLINE: forced inlining, so that a switch on a kind that is constant at the call site folds
// away (the CPU backend's per-kind loops over a block of cells rely on it).
#if defined(__CUDACC__)
#define GP_INLINE __forceinline__
#elif defined(__GNUC__)
#define GP_INLINE inline __attribute__((always_inline))
#else
#define GP_INLINE inline
#endif
