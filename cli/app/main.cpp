// geoprospect: thin entry point. Parses the command line, runs one subcommand, and turns every
// error into one line on stderr and a documented exit code.

#include "run/cluster.hpp"
#include "app/commands.hpp"
#include "gp/log.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#if defined(__linux__)
#include <unistd.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(GP_OPENMP_WAIT_POLICY_LIB)
extern "C" int gp_openmp_wait_policy_linked();
#endif

#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

namespace {

/// OpenMP threads that finish a parallel region spin before they sleep (libgomp's default). In
/// geoprospect the pipeline's reader and writer threads (GDAL decoding and encoding) share the
/// cores with the OpenMP team, and spinning threads take their time: passive waiting made a
/// whole 8192 x 8192 x 6 run 6% faster on 2 cores (bench/README.md). libgomp reads the policy
/// from the environment when it loads, before main. Where libgp_openmp_wait_policy.so is linked
/// (GCC builds), its constructor set the policy before libgomp read it
/// (openmp_wait_policy.cpp). Elsewhere the program runs again with it set; a user's own
/// OMP_WAIT_POLICY is kept. If exec fails, the run goes on as is.
void prefer_passive_openmp_waiting(char** argv) {
#if defined(GP_OPENMP_WAIT_POLICY_LIB)
  (void)argv;
  (void)gp_openmp_wait_policy_linked();
#elif defined(__linux__)
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OMP_WAIT_POLICY");  // exec failed (no /proc): carry on with the default
#else
  (void)argv;
#endif
}

/// GDAL allocates a block buffer per decoded tile (256 KiB for a 256 x 256 Float32 tile) and
/// the runner drops each window's blocks after use, from several threads (GDAL's decoders, the
/// pipeline's reader and writer). With glibc's defaults the freed memory went back to the
/// kernel (madvise from the threads' arenas) and every new block faulted fresh pages in: five
/// times the page faults of the I/O floor and 5-10% of an 8192 x 8192 x 6 run's wall time
/// (bench/README.md). Fixed thresholds keep blocks up to 4 MiB in the heap for reuse and return
/// memory only when 64 MiB lie free at its top; peak memory grew by about 1.5%.
void keep_freed_blocks_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gp::cli;
  prefer_passive_openmp_waiting(argv);
  keep_freed_blocks_for_reuse();
  CLI::App app{"geoprospect: GPU-accelerated mineral prospectivity mapping"};
  app.set_version_flag("--version", std::string("geoprospect ") + GP_VERSION);
  app.require_subcommand(1);
  GlobalOptions global;
  add_quiet_flag(app, global);
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
    std::fprintf(stderr, "geoprospect: error: %s (see geoprospect --help)\n",
                 gp::log::one_line(e.what()).c_str());
    return exit_usage;
  }
  if (global.quiet) gp::log::level() = gp::log::Level::error;

  // Under mpirun, every rank runs the same command; an error on any rank ends them all
  // (MPI_Abort) after this rank has removed its temporary files. Most errors (the model, a
  // missing or unreadable input) come to every rank alike: rank 0 says so at once and its
  // abort ends the others, while they wait up to two seconds before speaking, so that one line
  // is shown, not one per rank. An error of one rank alone still comes, two seconds later.
  bool mpi = false;
  auto fail = [&mpi](int code, const char* what) {
    std::fflush(stdout);
    if (mpi && gp::cli::cluster::size() > 1 && !gp::cli::cluster::is_root()) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    std::fprintf(stderr, "geoprospect: error: %s%s\n", gp::cli::cluster::prefix().c_str(),
                 gp::log::one_line(what).c_str());
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
  } catch (...) {
    const Failure f = current_failure();  // app/failure.cpp: the exit codes of README
    return fail(f.code, f.message.c_str());
  }
}
