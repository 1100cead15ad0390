// geoprospect: thin entry point. Parses the command line, runs one subcommand, and turns every
// error into one line on stderr and a documented exit code.

#include "gp/cli/commands.hpp"
#include "gp/error.hpp"
#include "gp/log.hpp"

#include <cstdio>
#include <exception>
#include <string>

#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace gp::cli;
  CLI::App app{"geoprospect: GPU-accelerated mineral prospectivity mapping"};
  app.set_version_flag("--version", std::string("geoprospect ") + GP_VERSION);
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_flag("-q,--quiet", global.quiet, "No progress bar or info messages (errors only)")
      ->configurable(false);
  app.fallthrough();
  auto run = setup_run(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "geoprospect: error: %s (see geoprospect --help)\n", e.what());
    return exit_usage;
  }
  if (global.quiet) gp::log::level() = gp::log::Level::error;

  auto fail = [](int code, const char* what) {
    std::fflush(stdout);
    std::fprintf(stderr, "geoprospect: error: %s\n", what);
    return code;
  };
  try {
    if (app.got_subcommand("run")) run();
    return exit_ok;
  } catch (const gp::config_error& e) {
    return fail(exit_model, e.what());
  } catch (const gp::input_error& e) {
    return fail(exit_input, e.what());
  } catch (const gp::io_error& e) {
    return fail(exit_output, e.what());
  } catch (const gp::cuda_error& e) {
    return fail(exit_device, e.what());
  } catch (const std::exception& e) {
    return fail(exit_internal, e.what());
  }
}
