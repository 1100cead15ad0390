// `geoprospect run MODEL.toml [-o OUT.tif] [--device auto|cpu|cuda] [--quiet] ...`

#include "app/api.hpp"
#include "app/commands.hpp"
#include "model/model.hpp"
#include "run/cluster.hpp"
#include "run/pipeline.hpp"
#include "run/runner.hpp"

#include "gp/text.hpp"
#include "gp/geo/crs.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/log.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <thread>

namespace gp::cli {

CLI::Validator in_range(double lo, double hi) {
  const std::string range = text::shortest_plain(lo) + " to " + text::shortest_plain(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& in) {
        double v = 0.0;
        if (CLI::detail::lexical_cast(in, v) && v >= lo && v <= hi) return std::string();
        return "expected a number from " + range + ", found " + in;
      },
      "in [" + range + "]");
}

void add_quiet_flag(CLI::App& app, GlobalOptions& global) {
  app.add_flag("-q,--quiet", global.quiet, "No progress bar or info messages (errors only)")
      ->configurable(false);
}

int run_thread_count(int threads) {
  // The OpenMP team and GDAL's decoding and warping pools (ALL_CPUS), the pipeline's reader
  // and writer.
  const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  return (threads > 0 ? threads : cores) + cores + 2;
}

int max_threads() {
  return 64 * static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
}

RunResult run_command(const std::function<model::Model()>& load, const RunOptions& opt,
                      int cache_mib) {
  geo::init_gdal(cache_mib, opt.threads);
  reserve_threads(run_thread_count(opt.threads));
  const model::Model m = load();
  check_devices(opt.device, opt.devices);
  return run_model(m, opt);
}

std::function<void()> setup_run(CLI::App& app, GlobalOptions& global) {
  struct Args {
    std::string model;
    std::string output;
    std::string device{"auto"};
    bool overwrite{false};
    std::int64_t window_rows{0};
    std::int64_t window_cells{1 << 21};
    int pipeline_depth{2};
    std::vector<int> devices;
    int threads{0};
    int cache_mib{96};
    std::uint64_t vector_memory_mib{8192};
  };
  auto args = std::make_shared<Args>();
  CLI::App* run = app.add_subcommand("run", "Run a model file and write the prospectivity map");
  run->add_option("model", args->model, "Model file (TOML)")->required();
  add_quiet_flag(*run, global);
  run->add_option("-o,--output", args->output, "Output GeoTIFF (overrides [output] path)");
  run->add_option("--device", args->device, "Compute backend: auto (CUDA when present), cpu, cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  run->add_option("--devices", args->devices,
                  "CUDA devices that share the work, e.g. 0,2 (default: every visible one)")
      ->delimiter(',')
      ->check(in_range(0, 1023));
  run->add_flag("--overwrite", args->overwrite,
                "Replace an existing output (only once the new one is complete)");
  CLI::Option* window_rows =
      run->add_option("--window-rows", args->window_rows,
                      "Rows per processing window (default: about --window-cells cells)")
          ->check(in_range(1, std::numeric_limits<std::int32_t>::max()));
  run->add_option("--pipeline-depth", args->pipeline_depth,
                  "Windows in flight: 2 overlaps reading, scoring and writing; 1 runs them in turn")
      ->check(in_range(1, 8));
  run->add_option("--window-cells", args->window_cells, "Cells per processing window")
      ->check(in_range(1, static_cast<double>(std::int64_t{1} << 40)))
      ->excludes(window_rows);  // --window-rows fixes the window; both is a bad command line
  run->add_option("--threads", args->threads, "CPU threads for compute and codecs (0: all cores)")
      ->check(in_range(0, max_threads()));
  run->add_option("--cache-mib", args->cache_mib, "GDAL block cache in MiB")
      ->check(in_range(1, 1 << 20));
  run->add_option("--vector-memory-mib", args->vector_memory_mib,
                  "Largest whole-grid buffer a distance/density vector layer may hold (MiB)")
      ->check(in_range(1, 1 << 24));

  return [args, &global]() {
    RunOptions opt;
    opt.output = args->output;
    opt.device = parse_device(args->device);
    opt.overwrite = args->overwrite;
    opt.progress = !global.quiet;
    opt.window_rows = args->window_rows;
    opt.window_cells = args->window_cells;
    opt.pipeline_depth = args->pipeline_depth;
    opt.devices = args->devices;
    opt.threads = args->threads;
    opt.vector_memory_mib = args->vector_memory_mib;
    const RunResult r =
        run_command([&] { return model::load_model(args->model); }, opt, args->cache_mib);
    if (!cluster::is_root()) return;  // rank 0 reports for the whole run
    std::printf("wrote %s (%lld x %lld cells, %s, %llu valid, %llu nodata, score %.4g..%.4g)\n",
                r.output.string().c_str(), static_cast<long long>(r.grid.width),
                static_cast<long long>(r.grid.height), geo::crs_label_wkt(r.grid.crs_wkt).c_str(),
                static_cast<unsigned long long>(r.valid_cells),
                static_cast<unsigned long long>(r.nodata_cells), r.min, r.max);
  };
}

}  // namespace gp::cli
