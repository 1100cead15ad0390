#pragma once
// Subcommands, one file each (CLI11 subcom_in_files model). Each registers itself on the app
// and returns the callback that runs it.

#include <CLI/CLI.hpp>

#include <functional>

namespace gp::cli {

/// Exit codes (documented in README.md).
enum ExitCode : int {
  exit_ok = 0,
  exit_internal = 1,  ///< a bug or an unexpected failure
  exit_usage = 2,     ///< bad command line
  exit_model = 3,     ///< the model file is invalid
  exit_input = 4,     ///< an input file is missing, unreadable or unusable
  exit_output = 5,    ///< the output cannot be written
  exit_device = 6,    ///< the compute device failed or is missing
};

/// Quiet flag shared by every subcommand.
struct GlobalOptions {
  bool quiet{false};
};

std::function<void()> setup_run(CLI::App& app, GlobalOptions& global);
/// `geoprospect territories`: the built-in territories with code, name and CRS.
std::function<void()> setup_territories(CLI::App& app, GlobalOptions& global);
/// `geoprospect validate MAP --deposits D`: curves, AUC, capture efficiency.
std::function<void()> setup_validate(CLI::App& app, GlobalOptions& global);

}  // namespace gp::cli
