#pragma once
// Checks of finished outputs shared by the output tests: GDAL's own Cloud-Optimized
// GeoTIFF validator, run as a separate process, and small file helpers.

#include <gdal_priv.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>

namespace gp::test {

struct CommandResult {
  int exit_code{-1};
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command and captures its output.
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) r.output += buf.data();
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// GDAL's validate_cloud_optimized_geotiff.py (python3-gdal's osgeo_utils), full check: the
/// IFDs first, overviews smallest first, tiles in order, tile data after the IFDs.
inline CommandResult validate_cog(const std::filesystem::path& tif) {
  return run_command(
      "/usr/bin/python3 -m osgeo_utils.samples.validate_cloud_optimized_geotiff "
      "--full-check=yes '" + tif.string() + "'");
}

/// SHA-256 of a file by coreutils, independent of the project's own code.
inline std::string sha256sum(const std::filesystem::path& path) {
  const CommandResult r = run_command("sha256sum '" + path.string() + "'");
  return r.exit_code == 0 ? r.output.substr(0, r.output.find(' ')) : std::string();
}

/// Opens a raster read-only and loads its PAM side file (GDAL loads .aux.xml lazily: category
/// names appear only after a metadata call).
inline GDALDatasetUniquePtr open_raster(const std::filesystem::path& path) {
  GDALDatasetUniquePtr ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (ds) ds->GetMetadata();
  return ds;
}

}  // namespace gp::test
