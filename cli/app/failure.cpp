// The one mapping from an exception to an exit code and its one-line message (README "Exit
// codes"), shared by main and the Python module (cli/python/).

#include "app/commands.hpp"
#include "gp/error.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/log.hpp"

#include <exception>
#include <new>
#include <system_error>

namespace gp::cli {
namespace {

/// Out of memory, with what failed when known.
Failure memory_failure(const std::string& what) {
  const std::string hint =
      "(the run needs more memory than the system allows: try a smaller --window-cells, fewer "
      "--threads or a smaller --cache-mib)";
  const std::string msg = what.empty() ? "out of memory " + hint
                          : what.rfind("out of memory", 0) == 0 ? what
                                                                 : "out of memory: " + what;
  return {exit_memory, msg};
}

}  // namespace

Failure current_failure() {
  try {
    throw;
  } catch (const gp::config_error& e) {
    return {exit_model, e.what()};
  } catch (const gp::input_error& e) {
    return gp::geo::gdal_ran_out_of_memory() ? memory_failure(e.what())
                                             : Failure{exit_input, e.what()};
  } catch (const gp::io_error& e) {
    return gp::geo::gdal_ran_out_of_memory() ? memory_failure(e.what())
                                             : Failure{exit_output, e.what()};
  } catch (const gp::cuda_error& e) {
    return {exit_device, e.what()};
  } catch (const gp::host_out_of_memory& e) {
    return {exit_memory, e.what()};
  } catch (const std::bad_alloc&) {
    return memory_failure("");
  } catch (const std::system_error& e) {
    // A thread that cannot start (EAGAIN: no memory for its stack, or a thread limit).
    if (e.code() == std::errc::resource_unavailable_try_again ||
        e.code() == std::errc::not_enough_memory) {
      return memory_failure(std::string("cannot start a thread: ") + e.what());
    }
    return {exit_internal, e.what()};
  } catch (const std::exception& e) {
    return {exit_internal, e.what()};
  } catch (...) {
    return {exit_internal, "unknown error"};
  }
}

}  // namespace gp::cli
