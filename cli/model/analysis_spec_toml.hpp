#pragma once
// Parsing of [validation] and [uncertainty] (issue 6), called from model.cpp.
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

/// Reads an integer key of either table reader (model.cpp's and this file's) into `out` when it
/// is an integer in [lo, hi]; otherwise returns what was expected, for the reader's message.
/// Every integer is checked here before it is narrowed (a band of 4294967298 must not become 2).
std::string read_integer(const toml::node& n, std::int64_t lo, std::int64_t hi,
                         std::int64_t& out);

/// Parses `[uncertainty]`. Throws gp::config_error.
UncertaintySpec parse_uncertainty(const toml::table& t, const std::string& source);

}  // namespace gp::model
