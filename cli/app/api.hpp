#pragma once
// The subcommands' work as plain functions, called by their CLI11 callbacks (cmd_*.cpp) and by
// the Python module (cli/python/): one implementation behind both front ends.

#include "analysis/validation.hpp"
#include "model/deposit_source.hpp"
#include "model/model.hpp"
#include "run/runner.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace gp::cli {

/// `geoprospect run`: GDAL set up (block cache `cache_mib`, opt.threads), the run's threads
/// reserved, the model loaded by `load` (a file, or text from the Python module), the devices
/// checked, then the run. Throws the gp::error types (app/failure.cpp maps them).
RunResult run_command(const std::function<model::Model()>& load, const RunOptions& opt,
                      int cache_mib);

/// The validate command line, as parsed: the options that ValidateOptions holds as they are
/// are bound to `options` itself.
struct ValidateArgs {
  std::string map;
  std::string deposits;
  model::DepositSourceSpec source;  ///< the deposit options but --deposits (`deposits` above)
  std::string out;
  std::string device{"auto"};
  bool overwrite{false};
  ValidateOptions options;  ///< band, split, capture, threads
};

/// What `geoprospect validate` found and the files it wrote.
struct ValidateOutcome {
  ValidationResult result;
  std::vector<std::filesystem::path> files;
};

/// `geoprospect validate`: validates the map and writes its files, all or none; existing
/// outputs are refused before the (possibly long) pass. Prints nothing.
ValidateOutcome run_validate(const ValidateArgs& a);

}  // namespace gp::cli
