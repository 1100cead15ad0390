#include "outputs/staged_raster.hpp"

#include "gp/error.hpp"
#include "gp/geo/cog.hpp"
#include "gp/geo/overviews.hpp"

#include <string>
#include <system_error>

namespace gp::cli {
namespace fs = std::filesystem;

std::vector<fs::path> stream_cog_overviews(StagedFiles& files, const fs::path& dst,
                                           const geo::Grid& grid, geo::WriterOptions& options) {
  options.level = geo::CogOptions{}.level;
  options.tile = geo::CogOptions{}.blocksize;  // the COG's tiles (windows are staged to them)
  const std::size_t levels = geo::cog_overview_sizes(grid.width, grid.height, options.tile).size();
  options.overview_paths.clear();
  for (std::size_t k = 0; k < levels; ++k) {
    options.overview_paths.push_back(files.temporary(dst, "ovr" + std::to_string(k + 1)));
  }
  return options.overview_paths;
}

fs::path assemble_staged_cog(StagedFiles& files, const fs::path& dst, const fs::path& full,
                             const std::vector<fs::path>& levels) {
  const fs::path cog = files.temporary(dst, "cog");
  geo::assemble_cog(full, levels, cog, "output " + dst.string());
  for (const auto& p : levels) files.discard(p);
  std::error_code ec;
  const fs::path aux(full.string() + ".aux.xml");
  if (fs::exists(aux, ec)) {
    fs::rename(aux, fs::path(cog.string() + ".aux.xml"), ec);
    if (ec) throw io_error("output " + dst.string() + ": moving its .aux.xml failed: " + ec.message());
  }
  files.discard(full);
  return cog;
}

StagedRaster::StagedRaster(StagedFiles& files, fs::path dst, const geo::Grid& grid,
                           geo::WriterOptions options, bool cog)
    : files_(files), dst_(std::move(dst)), width_(grid.width), cog_(cog) {
  if (options.report_as.empty()) options.report_as = dst_;
  staged_ = files_.temporary(dst_, "gtiff");
  if (cog_) levels_ = stream_cog_overviews(files_, dst_, grid, options);
  writer_.emplace(staged_, grid, std::move(options));
}

void StagedRaster::write(const float* const* bands, const geo::Window& win) {
  if (win.cols == width_) {
    writer_->write_rows(bands, win.rows);
  } else {
    writer_->write_window(bands, win);
  }
}

fs::path StagedRaster::finish() {
  writer_->close();
  if (!cog_) return staged_;
  return assemble_staged_cog(files_, dst_, staged_, levels_);
}

}  // namespace gp::cli
