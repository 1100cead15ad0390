#include "test_support.hpp"

#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <ogr_spatialref.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gp::test {
namespace fs = std::filesystem;

fs::path source_dir() { return GP_SOURCE_DIR; }
fs::path exe() { return GP_EXE; }

fs::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name()
                                     : std::string("global");
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  // The pid keeps two ctest entries running the same test binary in parallel apart.
  const fs::path dir = fs::path(GP_TEST_TMP) / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_raster(const fs::path& path, const std::string& crs, double x0, double y0, double dx,
                  double dy, int width, int height, const std::vector<float>& values,
                  const double* nodata) {
  if (values.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height)) {
    throw std::invalid_argument("write_raster: values do not match the size");
  }
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
  GDALDataset* ds = drv->Create(path.c_str(), width, height, 1, GDT_Float32, nullptr);
  if (ds == nullptr) throw std::runtime_error("cannot create " + path.string());
  double gt[6] = {x0, dx, 0.0, y0, 0.0, -dy};
  ds->SetGeoTransform(gt);
  if (!crs.empty()) {
    OGRSpatialReference srs;
    srs.SetFromUserInput(crs.c_str());
    ds->SetSpatialRef(&srs);
  }
  GDALRasterBand* b = ds->GetRasterBand(1);
  if (nodata != nullptr) b->SetNoDataValue(*nodata);
  if (b->RasterIO(GF_Write, 0, 0, width, height, const_cast<float*>(values.data()), width, height,
                  GDT_Float32, 0, 0) != CE_None) {
    throw std::runtime_error("cannot write " + path.string());
  }
  GDALClose(ds);
}

std::vector<float> read_raster(const fs::path& path, int band) {
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER));
  if (!ds) throw std::runtime_error("cannot open " + path.string());
  const int w = ds->GetRasterXSize();
  const int h = ds->GetRasterYSize();
  std::vector<float> v(static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
  if (ds->GetRasterBand(band)->RasterIO(GF_Read, 0, 0, w, h, v.data(), w, h, GDT_Float32, 0, 0) !=
      CE_None) {
    throw std::runtime_error("cannot read " + path.string());
  }
  return v;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

CliResult run_shell(const std::string& cmd) {
  const fs::path dir = fs::temp_directory_path();
  const fs::path out_file = dir / ("gp_cli_out_" + std::to_string(::getpid()));
  const fs::path err_file = dir / ("gp_cli_err_" + std::to_string(::getpid()));
  const std::string full = "( " + cmd + " ) >" + shell_quote(out_file.string()) + " 2>" +
                           shell_quote(err_file.string());
  const int status = std::system(full.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = file_bytes(out_file);
  r.err = file_bytes(err_file);
  fs::remove(out_file);
  fs::remove(err_file);
  return r;
}

CliResult run_cli(const std::vector<std::string>& args) {
  std::string cmd = shell_quote(exe().string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run_shell(cmd);
}

CliResult run_cli_in(const fs::path& dir, const std::vector<std::string>& args) {
  std::string cmd = "cd " + shell_quote(dir.string()) + " && " + shell_quote(exe().string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run_shell(cmd);
}

std::vector<std::string> hidden_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (!n.empty() && n[0] == '.') out.push_back(n);
  }
  return out;
}

std::vector<std::map<std::string, std::string>> read_csv_rows(const fs::path& path,
                                                              std::string* header) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  if (header != nullptr) *header = line;
  std::vector<std::string> head;
  std::stringstream hs(line);
  for (std::string h; std::getline(hs, h, ',');) head.push_back(h);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> r;
    std::size_t k = 0;
    std::string cur;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') {
        quoted = !quoted;
      } else if (ch == ',' && !quoted) {
        r[head.at(k++)] = cur;
        cur.clear();
      } else {
        cur += ch;
      }
    }
    r[head.at(k)] = cur;
    rows.push_back(r);
  }
  return rows;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.good()) ADD_FAILURE() << "cannot write " << path;
}

std::vector<std::string> partial_files(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".partial-") != std::string::npos) found.push_back(name);
  }
  return found;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

void write_three_layers(const std::filesystem::path& dir) {
  const int w = 301;
  const int h = 211;
  std::vector<float> a(static_cast<std::size_t>(w * h));
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      a[static_cast<std::size_t>(r * w + c)] =
          (r * 7 + c * 3) % 50 == 0 ? -9999.0f : static_cast<float>(std::sin(r * 0.05) * c);
    }
  }
  const double nd = -9999.0;
  write_raster(dir / "a.tif", "EPSG:3577", -1060000, -2985000, 100, 100, w, h, a, &nd);
  std::vector<float> b(static_cast<std::size_t>(130 * 90));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 13) % 1000);
  write_raster(dir / "b.tif", "EPSG:3577", -1065000, -2980000, 250, 250, 130, 90, b, &nd);
  std::vector<float> c(static_cast<std::size_t>(80 * 60));
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(std::cos(static_cast<double>(i) * 0.01));
  write_raster(dir / "c.tif", "EPSG:4326", 121.0, -27.0, 0.01, 0.01, 80, 60, c);
}


void write_deposit_cells(const std::filesystem::path& path, double x0, double y0, double cell,
                         const std::vector<std::pair<int, int>>& cells) {
  std::ofstream csv(path);
  csv << "name,x,y\n";
  for (std::size_t k = 0; k < cells.size(); ++k) {
    csv << "d" << k << "," << x0 + (cells[k].second + 0.5) * cell << ","
        << y0 - (cells[k].first + 0.5) * cell << "\n";
  }
}

}  // namespace gp::test
