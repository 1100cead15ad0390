// geoprospect._geoprospect: the Python module's C++ half, a thin layer over the commands'
// functions (app/api.hpp) and geo/'s band reader. geoprospect/__init__.py wraps it: argument
// checks, exception classes, the result object.
//
// Errors: every gp::error becomes _Failure(exit_code, one-line message) through the CLI's own
// mapping (app/failure.cpp); __init__.py raises the matching geoprospect.*Error.
// The GIL is released while a command works. Ctrl-C: the interpreter keeps SIGINT
// (leave_sigint_to_host), its handler only sets a flag; the run's progress callback takes the
// GIL at each update and runs PyErr_CheckSignals, and a KeyboardInterrupt (or any exception of
// the user's callback) stops the run by throwing through it: the run unwinds as on any error,
// which removes its staged files, and the Python exception is raised again as it was.

#include "app/api.hpp"
#include "app/commands.hpp"
#include "convert.hpp"
#include "outputs/staged_files.hpp"

#include "gp/error.hpp"
#include "gp/geo/band_reader.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/raster_source.hpp"
#include "gp/geo/territory.hpp"
#include "gp/log.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#ifndef GP_VERSION
#define GP_VERSION "0.0.0"
#endif

namespace py = pybind11;

namespace gp::python {
namespace {

PyObject* g_failure = nullptr;  // _Failure, created at import (owned by the module)

/// Thrown through the run by the progress callback when Python wants it to stop.
struct Cancelled : std::exception {
  [[nodiscard]] const char* what() const noexcept override { return "cancelled"; }
};

[[noreturn]] void raise_failure(const cli::Failure& f) {
  const py::tuple args = py::make_tuple(f.code, gp::log::one_line(f.message));
  PyErr_SetObject(g_failure, args.ptr());
  throw py::error_already_set();
}

/// The user's progress callable (or None) and the Python error that stopped the run.
struct ProgressBridge {
  py::object user;
  std::exception_ptr error;

  void operator()(double fraction, const std::string& message) {
    py::gil_scoped_acquire gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C since the last
      if (!user.is_none()) user(fraction, message);
    } catch (py::error_already_set&) {
      error = std::current_exception();
      throw Cancelled();
    }
  }
};

/// Runs `work` without the GIL. A Python error from the progress callback is raised again as it
/// was; any other failure as _Failure.
template <typename Work>
void without_gil(Work&& work, const ProgressBridge* bridge = nullptr) {
  std::optional<cli::Failure> failure;
  {
    py::gil_scoped_release nogil;
    try {
      work();
    } catch (...) {
      failure = cli::current_failure();
    }
  }
  if (bridge != nullptr && bridge->error) std::rethrow_exception(bridge->error);
  if (failure) raise_failure(*failure);
}

/// Runs `work` with the GIL, raising a gp::error as _Failure (Python errors pass as they are).
template <typename Work>
auto with_failures(Work&& work) {
  try {
    return work();
  } catch (const py::error_already_set&) {
    throw;
  } catch (...) {
    raise_failure(cli::current_failure());
  }
}

cli::RunOptions run_options(const std::string& output, const std::string& device, bool overwrite,
                            int threads, std::int64_t window_rows, std::int64_t window_cells) {
  cli::RunOptions opt;
  opt.output = output;
  opt.device = cli::parse_device(device);
  opt.overwrite = overwrite;
  opt.progress = false;  // no text bar on stderr: the callback is the notebook's progress
  opt.threads = threads;
  opt.window_rows = window_rows;
  opt.window_cells = window_cells;
  return opt;
}

/// `kind`: "file" (model = its path), "text" (TOML), "dict"; relative paths of text and dict
/// models resolve against `base_dir`.
py::dict run(const std::string& kind, const py::object& model, const std::string& base_dir,
             const std::string& output, const std::string& device, bool overwrite,
             const py::object& progress, int threads, std::int64_t window_rows,
             std::int64_t window_cells, int cache_mib) {
  const std::string text = with_failures([&] {
    return kind == "dict" ? dict_to_toml(model.cast<py::dict>()) : model.cast<std::string>();
  });
  ProgressBridge bridge{progress, nullptr};
  cli::RunOptions opt = with_failures(
      [&] { return run_options(output, device, overwrite, threads, window_rows, window_cells); });
  opt.on_progress = [&bridge](double f, const std::string& m) { bridge(f, m); };
  const std::string source = kind == "dict" ? "model dict" : "model text";
  std::optional<cli::RunResult> result;
  without_gil(
      [&] {
        result = cli::run_command(
            [&] {
              return kind == "file" ? model::load_model(text)
                                    : model::parse_model(text, source, base_dir);
            },
            opt, cache_mib);
      },
      &bridge);
  return run_result_dict(*result);
}

/// The deposit options of `geoprospect validate`, by their long names without "--".
model::DepositSourceSpec deposit_options(const py::dict& o) {
  model::DepositSourceSpec d;
  const auto get = [&o](const char* key, std::string& into) {
    if (o.contains(key) && !o[key].is_none()) into = py::str(o[key]).cast<std::string>();
  };
  get("layer", d.layer);
  get("sql", d.sql);
  get("where", d.where);
  get("x_column", d.x_column);
  get("y_column", d.y_column);
  get("crs", d.crs);
  get("name_column", d.name_column);
  get("filter_column", d.filter_column);
  get("filter_contains", d.filter_contains);
  get("filter_equals", d.filter_equals);
  return d;
}

/// `geoprospect validate`: `deposit` holds the deposit options, `split` holdout, kfold, seed,
/// split_by, blocks and capture (None: the command's default).
py::dict validate(const std::string& map, const std::string& deposits, const py::dict& deposit,
                  const py::dict& split, const std::string& out, int band,
                  const std::string& device, int threads, bool overwrite) {
  cli::ValidateArgs a;
  a.map = map;
  a.deposits = deposits;
  a.source = deposit_options(deposit);
  a.out = out;
  a.device = device;
  a.overwrite = overwrite;
  a.options.band = band;
  a.options.threads = threads;
  if (split.contains("holdout") && !split["holdout"].is_none()) a.options.holdout = split["holdout"].cast<double>();
  if (split.contains("kfold") && !split["kfold"].is_none()) a.options.kfold = split["kfold"].cast<int>();
  if (split.contains("seed") && !split["seed"].is_none()) a.options.seed = split["seed"].cast<std::uint64_t>();
  if (split.contains("split_by") && !split["split_by"].is_none()) a.options.split_by = split["split_by"].cast<std::string>();
  if (split.contains("blocks") && !split["blocks"].is_none()) a.options.block_km = split["blocks"].cast<double>();
  if (split.contains("capture") && !split["capture"].is_none()) {
    a.options.capture_percent = split["capture"].cast<std::vector<double>>();
  }
  std::optional<cli::ValidateOutcome> outcome;
  without_gil([&] { outcome = cli::run_validate(a); });
  return validate_outcome_dict(*outcome);
}

py::list territories() {
  py::list l;
  for (const auto& t : geo::territories()) {
    py::dict d;
    d["code"] = t.code;
    d["name"] = t.name;
    d["crs"] = t.crs;
    d["note"] = t.crs_note;
    l.append(d);
  }
  return l;
}

/// One band as float32 (rows x columns), its nodata mask (nodata value or NaN) and geotransform.
py::tuple read_raster(const std::string& path, int band) {
  using Array = py::array_t<float, py::array::c_style>;
  std::optional<geo::BandReader> reader;
  std::optional<geo::Grid> grid;
  std::optional<double> nodata;
  without_gil([&] {
    geo::init_gdal();
    geo::check_input_path(path, "the raster");
    reader.emplace(path, "the raster");
    if (band < 1 || band > reader->band_count()) {
      throw input_error("the raster " + path + " has no band " + std::to_string(band) + " (it has " +
                        std::to_string(reader->band_count()) + ")");
    }
    reader->select_band(band);
    grid = reader->grid();
    if (!grid) throw input_error("the raster " + path + " is not a north-up georeferenced raster");
    nodata = reader->nodata();
  });
  const auto h = static_cast<py::ssize_t>(grid->height);
  const auto w = static_cast<py::ssize_t>(grid->width);
  Array values({h, w});
  py::array_t<bool, py::array::c_style> mask({h, w});
  float* v = values.mutable_data();
  bool* m = mask.mutable_data();
  without_gil([&] {
    reader->read(geo::Window{0, 0, grid->width, grid->height}, v);
    const std::size_t n = grid->cells();
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = std::isnan(v[i]) || (nodata && static_cast<double>(v[i]) == *nodata);
    }
  });
  const auto gt = grid->geotransform();
  return py::make_tuple(values, mask, py::make_tuple(gt[0], gt[1], gt[2], gt[3], gt[4], gt[5]));
}

}  // namespace
}  // namespace gp::python

PYBIND11_MODULE(_geoprospect, m) {
  using namespace gp::python;
  m.doc() = "geoprospect's C++ half; use the package `geoprospect`";
  m.attr("__version__") = GP_VERSION;
  gp::cli::leave_sigint_to_host();  // KeyboardInterrupt, not the end of the interpreter
  g_failure = PyErr_NewException("geoprospect._geoprospect._Failure", PyExc_Exception, nullptr);
  m.attr("_Failure") = py::handle(g_failure);  // the module holds it from here on
  m.def("run", &run, py::arg("kind"), py::arg("model"), py::arg("base_dir"), py::arg("output"),
        py::arg("device"), py::arg("overwrite"), py::arg("progress"), py::arg("threads"),
        py::arg("window_rows"), py::arg("window_cells"), py::arg("cache_mib"));
  m.def("validate", &validate, py::arg("map"), py::arg("deposits"), py::arg("deposit"),
        py::arg("split"), py::arg("out"), py::arg("band"), py::arg("device"), py::arg("threads"),
        py::arg("overwrite"));
  m.def("territories", &territories);
  m.def("read", &read_raster, py::arg("path"), py::arg("band") = 1);
}
