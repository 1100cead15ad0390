#pragma once
// Helpers shared by the tests: scratch folders, small rasters written with GDAL, running the CLI.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gp::test {

/// The source tree and the built CLI.
std::filesystem::path source_dir();
std::filesystem::path exe();

/// A fresh empty folder under the build tree, named after the running test.
std::filesystem::path scratch_dir();

/// Writes a single-band Float32 GeoTIFF (north-up) with optional nodata.
/// `crs` is anything GDAL accepts ("EPSG:3577").
void write_raster(const std::filesystem::path& path, const std::string& crs, double x0, double y0,
                  double dx, double dy, int width, int height, const std::vector<float>& values,
                  const double* nodata = nullptr);

/// Three layers in `dir`: a.tif on a 100 m EPSG:3577 grid (301 x 211, nodata -9999 at regular
/// cells), b.tif on a coarser 250 m EPSG:3577 grid and c.tif in EPSG:4326 (on a's grid both
/// are read through the warper).
void write_three_layers(const std::filesystem::path& dir);

/// A deposits CSV (name,x,y): a point d<k> at the centre of cell k of `cells` (row, column) on
/// a north-up grid of square `cell`-wide cells whose top-left corner is (x0, y0).
void write_deposit_cells(const std::filesystem::path& path, double x0, double y0, double cell,
                         const std::vector<std::pair<int, int>>& cells);

/// Reads band `band` of a raster as floats (row-major).
std::vector<float> read_raster(const std::filesystem::path& path, int band = 1);

/// Result of running the CLI.
struct CliResult {
  int exit_code{-1};
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};
/// Runs `geoprospect <args>` (args are shell-quoted) and captures stdout, stderr, exit code.
CliResult run_cli(const std::vector<std::string>& args);
/// The same, run from `dir` (cd dir && geoprospect <args>): relative paths resolve there.
CliResult run_cli_in(const std::filesystem::path& dir, const std::vector<std::string>& args);
/// Runs a shell command line (sh -c) and captures stdout, stderr and the exit code.
CliResult run_shell(const std::string& cmd);
/// `s` quoted for sh.
std::string shell_quote(const std::string& s);

/// The documented exit codes (README "Exit codes"), written here once for every test.
namespace exit_code {
constexpr int usage = 2;
constexpr int model = 3;
constexpr int input = 4;
constexpr int output = 5;
constexpr int device = 6;
constexpr int memory = 7;
}  // namespace exit_code

/// Names in `dir` that start with ".": every temporary, backup and vector-plan raster the
/// program makes is hidden, so a clean folder has none.
std::vector<std::string> hidden_files(const std::filesystem::path& dir);

/// A CSV file with a header line as rows of column name -> text (quoted fields may hold
/// commas; the quotes are dropped). `header` receives the header line when given.
std::vector<std::map<std::string, std::string>> read_csv_rows(const std::filesystem::path& path,
                                                              std::string* header = nullptr);

/// Bytes of a file.
std::string file_bytes(const std::filesystem::path& path);

/// Non-empty lines of a text.
std::vector<std::string> lines(const std::string& text);

/// Writes `text` to `path` (binary); a failed write fails the running test.
void write_text(const std::filesystem::path& path, const std::string& text);

/// Temporary files an interrupted or failed write could leave in `dir`: `*.partial-*`.
std::vector<std::string> partial_files(const std::filesystem::path& dir);

/// The strings, one per line (for failure messages).
std::string join(const std::vector<std::string>& v);

}  // namespace gp::test
