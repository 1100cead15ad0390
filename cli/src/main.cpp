// geoprospect: thin entry point. Parses the command line, runs one subcommand, and turns every
// error into one line on stderr and a documented exit code.

#include "gp/cli/cluster.hpp"
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
  auto territories = setup_territories(app, global);
  auto validate = setup_validate(app, global);

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

  // Under mpirun, every rank runs the same command; an error on any rank ends them all
  // (MPI_Abort) after this rank has removed its temporary files.
  bool mpi = false;
  auto fail = [&mpi](int code, const char* what) {
    std::fflush(stdout);
    std::fprintf(stderr, "geoprospect: error: %s%s\n", gp::cli::cluster::prefix().c_str(), what);
    if (mpi && gp::cli::cluster::size() > 1) gp::cli::cluster::abort_all(code);
    gp::cli::cluster::finalize();
    return code;
  };
  try {
    if (app.got_subcommand("run")) {
      mpi = gp::cli::cluster::init(&argc, &argv);
      if (!gp::cli::cluster::is_root()) {
        gp::log::level() = gp::log::Level::warning;  // one progress bar and one log: rank 0's
        global.quiet = true;
      }
      run();
      gp::cli::cluster::finalize();
    }
    if (app.got_subcommand("territories")) territories();
    if (app.got_subcommand("validate")) validate();
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
