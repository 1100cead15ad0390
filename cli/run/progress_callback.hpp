#pragma once
// The progress hook of a run (RunOptions::on_progress, Progress), apart from progress.hpp so
// that runner.hpp does not bring gp/log.hpp's namespace `gp::log` into code that calls log().

#include <functional>
#include <string>

namespace gp::cli {

/// A front end's own view of the progress (the Python module): the fraction done in [0, 1] and
/// what the run is doing. It may throw to stop the run: the exception unwinds the run like any
/// error, so that its staged files are removed (outputs/staged_files.hpp) and nothing is left.
using ProgressCallback = std::function<void(double fraction, const std::string& message)>;

}  // namespace gp::cli
