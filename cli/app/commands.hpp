#pragma once
// Subcommands, one file each (CLI11 subcom_in_files model). Each registers itself on the app
// and returns the callback that runs it.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

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
  exit_memory = 7,    ///< out of memory (or of threads) on the host
};

/// An error as the program reports it: the exit code and the message (before one_line).
struct Failure {
  int code{exit_internal};
  std::string message;
};

/// The Failure of the exception in flight: call inside a catch block. gp::config_error -> 3,
/// input_error -> 4, io_error -> 5, cuda_error -> 6, host_out_of_memory and bad_alloc -> 7 (GDAL
/// running out of memory too), anything else -> 1. The one mapping: main and the Python module.
Failure current_failure();

/// A CLI11 check that a number lies in [lo, hi], whose message quotes the bounds readably
/// (CLI::Range and CLI::PositiveNumber print DBL_MAX as 309 digits). Integer options get it
/// too: their value is checked before CLI11 narrows it.
CLI::Validator in_range(double lo, double hi);

/// The most CPU threads --threads accepts: 64 per core. Far more crash the OpenMP runtime.
int max_threads();

/// Threads a run with --threads `threads` may have at once (reserved before it starts).
int run_thread_count(int threads);

/// Quiet flag shared by every subcommand.
struct GlobalOptions {
  bool quiet{false};
};

/// Declares -q/--quiet on `app` (the program or a subcommand, so that its --help lists it),
/// setting `global.quiet`.
void add_quiet_flag(CLI::App& app, GlobalOptions& global);

std::function<void()> setup_run(CLI::App& app, GlobalOptions& global);
/// `geoprospect territories`: the built-in territories with code, name and CRS.
std::function<void()> setup_territories(CLI::App& app, GlobalOptions& global);
/// `geoprospect validate MAP --deposits D`: curves, AUC, capture efficiency.
std::function<void()> setup_validate(CLI::App& app, GlobalOptions& global);

}  // namespace gp::cli
