#include "convert.hpp"

#include "gp/error.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <sstream>

namespace py = pybind11;

namespace gp::python {
namespace {

toml::table table_of(const py::dict& d, const std::string& where);

toml::array array_of(const py::handle& seq, const std::string& where);

/// One value as TOML. Checked in this order because bool is an int in Python.
template <typename Put>
void put_value(const py::handle& v, const std::string& where, Put&& put) {
  if (py::isinstance<py::bool_>(v)) {
    put(v.cast<bool>());
  } else if (py::isinstance<py::int_>(v)) {
    put(v.cast<std::int64_t>());
  } else if (py::isinstance<py::float_>(v)) {
    put(v.cast<double>());
  } else if (py::isinstance<py::str>(v)) {
    put(v.cast<std::string>());
  } else if (py::hasattr(v, "__fspath__")) {  // pathlib.Path
    put(py::str(v.attr("__fspath__")()).cast<std::string>());
  } else if (py::isinstance<py::dict>(v)) {
    put(table_of(v.cast<py::dict>(), where));
  } else if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    put(array_of(v, where));
  } else {
    throw config_error("model dict: " + where + ": a " +
                       py::str(py::type::of(v).attr("__name__")).cast<std::string>() +
                       " cannot be a TOML value (expected bool, int, float, str, list or dict)");
  }
}

toml::array array_of(const py::handle& seq, const std::string& where) {
  toml::array a;
  std::size_t i = 0;
  for (const py::handle item : seq) {
    put_value(item, where + "[" + std::to_string(i++) + "]",
              [&a](auto&& x) { a.push_back(std::forward<decltype(x)>(x)); });
  }
  return a;
}

toml::table table_of(const py::dict& d, const std::string& where) {
  toml::table t;
  for (const auto& [k, v] : d) {
    if (!py::isinstance<py::str>(k)) {
      throw config_error("model dict: " + (where.empty() ? std::string("top level") : where) +
                         ": keys must be strings, found " + py::repr(k).cast<std::string>());
    }
    const std::string key = k.cast<std::string>();
    const std::string path = where.empty() ? key : where + "." + key;
    if (v.is_none()) continue;  // None: the key is left out (TOML has no null)
    put_value(v, path, [&t, &key](auto&& x) { t.insert_or_assign(key, std::forward<decltype(x)>(x)); });
  }
  return t;
}

py::dict grid_dict(const geo::Grid& g) {
  py::dict d;
  d["width"] = g.width;
  d["height"] = g.height;
  d["x0"] = g.x0;
  d["y0"] = g.y0;
  d["dx"] = g.dx;
  d["dy"] = g.dy;
  const auto gt = g.geotransform();
  d["geotransform"] = py::make_tuple(gt[0], gt[1], gt[2], gt[3], gt[4], gt[5]);
  d["crs_wkt"] = g.crs_wkt;
  return d;
}

py::list path_list(const std::vector<std::filesystem::path>& paths) {
  py::list l;
  for (const auto& p : paths) l.append(p.string());
  return l;
}

}  // namespace

std::string dict_to_toml(const py::dict& model) {
  std::ostringstream s;
  s << table_of(model, "");
  return s.str();
}

py::dict run_result_dict(const cli::RunResult& r) {
  py::dict d;
  d["output"] = r.output.string();
  d["files"] = path_list(r.files);
  d["grid"] = grid_dict(r.grid);
  d["device"] = r.device;
  d["valid_cells"] = r.valid_cells;
  d["nodata_cells"] = r.nodata_cells;
  py::list bands;
  for (const auto& b : r.bands) {
    py::dict bd;
    bd["name"] = b.name;
    bd["valid"] = b.valid;
    bd["nodata"] = b.nodata;
    bd["min"] = b.min;
    bd["max"] = b.max;
    bd["mean"] = b.mean;
    bd["stddev"] = b.stddev;
    bands.append(bd);
  }
  d["bands"] = bands;
  py::dict timings;
  timings["statistics"] = r.seconds_stats;
  timings["scoring"] = r.seconds_score;
  timings["outputs"] = r.seconds_outputs;
  for (const auto& [stage, s] : r.output_seconds) timings[py::str("outputs." + stage)] = s;
  d["timings"] = timings;
  py::list modes;
  for (const auto& m : r.layer_modes) modes.append(m);
  d["layer_modes"] = modes;
  d["report_sections"] = r.report.dump();
  return d;
}

py::dict validate_outcome_dict(const cli::ValidateOutcome& v) {
  py::dict d;
  d["files"] = path_list(v.files);
  d["json"] = cli::validation_json(v.result).dump();
  return d;
}

}  // namespace gp::python
