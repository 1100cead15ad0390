#pragma once
// Parsing of [validation] and [uncertainty], called from model.cpp.
#include "model/analysis_spec.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace gp::model {

/// Parses `[validation]`; paths resolve against `base_dir`. Throws gp::config_error naming
/// `source`, the line and the key.
ValidationSpec parse_validation(const toml::table& t, const std::string& source,
                                const std::filesystem::path& base_dir);

/// Parses `[uncertainty]`. Throws gp::config_error.
UncertaintySpec parse_uncertainty(const toml::table& t, const std::string& source);

/// Parses the `[[sweep]]` array of tables (the names are checked against the model later, by
/// check_sweep). Throws gp::config_error.
SweepSpec parse_sweep(const toml::node& n, const std::string& source);

}  // namespace gp::model
