#pragma once
// GP_HD marks functions compiled for host and device (NanoVDB's __hostdev__ model):
// nvcc sees __host__ __device__, g++ sees plain inline functions.

#if defined(__CUDACC__)
#define GP_HD __host__ __device__
#else
#define GP_HD
#endif
