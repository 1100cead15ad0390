#pragma once
// The per-cell scoring functor: what the CUDA backend launches over a window's cells
// (dev::for_each_index) and what bench/cuda_copy_bench.cu times on device-resident layers, so
// that the benchmark measures the product's code and launch, not a copy of them.

#include "gp/kernels/cell_ops.hpp"
#include "gp/kernels/device_system.hpp"

#include <cstddef>

namespace gp::kernels {

/// One cell: `layers` holds program_inputs rows of `stride` floats; `bands` n_bands rows.
/// `ProgramOf::get()` returns the program, a GP_CONSTANT of the launching translation unit
/// (without relocatable device code, constant memory belongs to one translation unit).
/// `Shap`: whether TreeSHAP bands are computed (eval_cell_as); only the contributions of a tree
/// ensemble need it, and without it the kernel keeps TreeSHAP's arrays out of its frame.
template <class ProgramOf, bool Shap = false>
struct ScoreCellOf {
  const float* layers;
  const double* aux;
  std::size_t stride;
  float* bands;
  GP_DEVICE void operator()(std::size_t i) const {
    const Program& program = ProgramOf::get();
    eval_cell_as<Shap>(
        program, aux, [&](int l) { return layers[static_cast<std::size_t>(l) * stride + i]; },
        [&](int b, double v) {
          bands[static_cast<std::size_t>(b) * stride + i] = store_value(program, v);
        });
  }
};

}  // namespace gp::kernels
