#pragma once
// Python values <-> the runner's types, for module.cpp. Needs the GIL.

#include "app/api.hpp"

#include <pybind11/pybind11.h>

#include <string>

namespace gp::python {

/// A model given as a dict, as TOML text: the same text a model file would hold, for
/// model::parse_model (the one TOML reader). Keys must be strings; values: bool, int, float,
/// str, list, tuple, dict (and anything with __fspath__, as its path). Throws gp::config_error
/// naming the key of a value TOML cannot hold.
std::string dict_to_toml(const pybind11::dict& model);

/// The run's result as a dict (paths as str): output, files, grid, device, cells, bands,
/// timings, layer modes, and the report sections (JSON text, parsed in __init__.py).
pybind11::dict run_result_dict(const cli::RunResult& r);

/// What validation found (validation_json) as JSON text and the files written.
pybind11::dict validate_outcome_dict(const cli::ValidateOutcome& v);

}  // namespace gp::python
