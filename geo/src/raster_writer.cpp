#include "gp/geo/raster_writer.hpp"

#include "gp/error.hpp"
#include "gp/geo/gdal_env.hpp"
#include "gp/geo/overviews.hpp"

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal_priv.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

namespace gp::geo {

namespace fs = std::filesystem;

namespace {

/// Why a write failed: a full disk or a file-size limit named as such (the system's errno,
/// cleared before the write so that a stale value is never shown), else GDAL's message, else
/// the system's. Never empty.
std::string failure_text(const std::string& gdal, int err, const fs::path& dir) {
  if (err == ENOSPC || err == EDQUOT) {
    std::string t = "the disk is full";
    std::error_code ec;
    const auto sp = fs::space(dir, ec);
    if (!ec) t += " (" + std::to_string(sp.available / 1024) + " KiB free in " + dir.string() + ")";
    return t;
  }
  if (err == EFBIG) return "the file exceeds the file-size limit";
  if (!gdal.empty()) return gdal;
  if (err == ENOMEM) return "out of memory";
  if (err != 0) return std::strerror(err);
  return "GDAL gave no reason";
}

bool gdal_failed() {
  const CPLErr e = CPLGetLastErrorType();
  return e == CE_Failure || e == CE_Fatal;
}

/// A Byte band's colour table (entry 0 transparent when 0 is nodata) and category names (PAM,
/// and CLASS_<v>_NAME band metadata items, which the TIFF holds itself). False on failure.
bool set_palette(GDALRasterBand& band, const WriterOptions& o) {
  if (!o.colors.empty()) {
    GDALColorTable ct;
    for (std::size_t i = 0; i < o.colors.size(); ++i) {
      const bool clear = i == 0 && o.nodata == 0.0;
      const GDALColorEntry e{o.colors[i].r, o.colors[i].g, o.colors[i].b,
                             static_cast<short>(clear ? 0 : 255)};
      ct.SetColorEntry(static_cast<int>(i), &e);
    }
    if (band.SetColorTable(&ct) != CE_None) return false;
    if (band.SetColorInterpretation(GCI_PaletteIndex) != CE_None) return false;
  }
  if (!o.category_names.empty()) {
    CPLStringList cats;
    for (const auto& name : o.category_names) cats.AddString(name.c_str());
    if (band.SetCategoryNames(cats.List()) != CE_None) return false;
    for (std::size_t i = 0; i < o.category_names.size(); ++i) {
      if (o.category_names[i].empty()) continue;
      const std::string key = "CLASS_" + std::to_string(i) + "_NAME";
      if (band.SetMetadataItem(key.c_str(), o.category_names[i].c_str()) != CE_None) return false;
    }
  }
  return true;
}

}  // namespace

RasterWriter::RasterWriter(fs::path path, const Grid& grid, WriterOptions options)
    : path_(fs::absolute(path)), grid_(grid), opt_(std::move(options)) {
  std::error_code exists_ec;
  if (fs::symlink_status(path_, exists_ec).type() != fs::file_type::not_found) {
    // The writer creates new files only (the caller stages outputs and moves them into place).
    throw io_error("output " + shown_path().string() + ": " + path_.string() + " already exists");
  }
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (drv == nullptr) throw io_error("GDAL has no GTiff driver");
  CPLStringList co;
  co.SetNameValue("TILED", "YES");
  co.SetNameValue("BLOCKXSIZE", std::to_string(opt_.tile).c_str());
  co.SetNameValue("BLOCKYSIZE", std::to_string(opt_.tile).c_str());
  co.SetNameValue("BIGTIFF", "IF_SAFER");
  co.SetNameValue("COMPRESS", opt_.compress.c_str());
  if (opt_.compress == "ZSTD") co.SetNameValue("ZSTD_LEVEL", std::to_string(opt_.level).c_str());
  if (opt_.compress == "DEFLATE") co.SetNameValue("ZLEVEL", std::to_string(opt_.level).c_str());
  if (opt_.compress != "NONE") {
    co.SetNameValue("PREDICTOR", std::to_string(opt_.predictor).c_str());
  }
  co.SetNameValue("NUM_THREADS",
                  opt_.threads > 0 ? std::to_string(opt_.threads).c_str() : "ALL_CPUS");
  reset_gdal_error();
  if (opt_.band_descriptions.empty()) opt_.band_descriptions.emplace_back("prospectivity");
  if (opt_.band_descriptions.size() > 1) co.SetNameValue("INTERLEAVE", "BAND");
  const int n_bands = static_cast<int>(opt_.band_descriptions.size());
  const bool byte = opt_.type == PixelType::byte;
  ds_ = drv->Create(path_.c_str(), static_cast<int>(grid_.width), static_cast<int>(grid_.height),
                    n_bands, byte ? GDT_Byte : GDT_Float32, co.List());
  if (ds_ == nullptr) {
    throw io_error("output " + shown_path().string() + ": cannot be created: " +
                   failure_text(last_gdal_error(), errno, path_.parent_path()));
  }
  // Every setting is checked: a map without the grid's CRS or nodata must never be called done
  // (under memory pressure GDAL can fail any of these).
  auto fail = [&](const std::string& step) {
    const std::string why = failure_text(last_gdal_error(), errno, path_.parent_path());
    close_dataset();
    std::error_code ec;
    fs::remove(path_, ec);
    fs::remove(fs::path(path_.string() + ".aux.xml"), ec);
    throw io_error("output " + shown_path().string() + ": " + step + " failed: " + why);
  };
  auto gt = grid_.geotransform();
  if (ds_->SetGeoTransform(gt.data()) != CE_None) fail("setting the geotransform");
  if (!grid_.crs_wkt.empty() && ds_->SetProjection(grid_.crs_wkt.c_str()) != CE_None) {
    fail("setting the CRS");
  }
  for (const auto& [k, v] : opt_.metadata) {
    if (ds_->SetMetadataItem(k.c_str(), v.c_str()) != CE_None) fail("setting metadata " + k);
  }
  for (int b = 0; b < n_bands; ++b) {
    GDALRasterBand* band = ds_->GetRasterBand(b + 1);
    if (band == nullptr || band->SetNoDataValue(opt_.nodata) != CE_None) fail("setting nodata");
    band->SetDescription(opt_.band_descriptions[static_cast<std::size_t>(b)].c_str());
    if (byte && !set_palette(*band, opt_)) fail("setting the colour table and class names");
  }
  if (gdal_failed()) fail("creating the file");
  tile_.resize(static_cast<std::size_t>(opt_.tile) * static_cast<std::size_t>(opt_.tile));
  if (byte) tile_bytes_.resize(tile_.size());
  if (!opt_.overview_paths.empty()) {
    overviews_ = std::make_unique<OverviewPyramid>(grid_, opt_, opt_.overview_paths);
  }
}

RasterWriter::~RasterWriter() {
  overviews_.reset();  // an unclosed pyramid removes its files
  if (!closed_) {
    close_dataset();
    std::error_code ec;
    fs::remove(path_, ec);
    fs::remove(fs::path(path_.string() + ".aux.xml"), ec);
  }
}

void RasterWriter::close_dataset() {
  if (ds_ != nullptr) {
    GDALClose(GDALDataset::ToHandle(ds_));
    ds_ = nullptr;
  }
}

void RasterWriter::write_rows(const float* const* bands, std::int64_t rows) {
  const auto width = static_cast<std::size_t>(grid_.width);
  const std::size_t n_bands = opt_.band_descriptions.size();
  std::vector<const float*> src(n_bands);
  std::size_t done = 0;  // rows consumed so far
  while (rows > 0) {
    const std::int64_t strip_h =
        std::min<std::int64_t>(opt_.tile, grid_.height - tile_row_ * opt_.tile);
    if (strip_rows_ == 0 && rows >= strip_h) {
      // A whole tile row is here: emit it straight from the caller's rows, no staging copy
      // (windows aligned to the tile height never touch the staging strip).
      for (std::size_t b = 0; b < n_bands; ++b) src[b] = bands[b] + done * width;
      emit_tile_row(src.data(), strip_h);
      done += static_cast<std::size_t>(strip_h);
      rows -= strip_h;
      next_row_ += strip_h;
      continue;
    }
    if (strip_.empty()) {
      strip_.assign(n_bands, std::vector<float>(static_cast<std::size_t>(opt_.tile) * width,
                                                static_cast<float>(opt_.nodata)));
    }
    const std::int64_t take = std::min(rows, strip_h - strip_rows_);
    for (std::size_t b = 0; b < n_bands; ++b) {
      std::memcpy(strip_[b].data() + static_cast<std::size_t>(strip_rows_) * width,
                  bands[b] + done * width, static_cast<std::size_t>(take) * width * sizeof(float));
    }
    done += static_cast<std::size_t>(take);
    rows -= take;
    strip_rows_ += take;
    next_row_ += take;
    if (strip_rows_ == strip_h) {
      for (std::size_t b = 0; b < n_bands; ++b) src[b] = strip_[b].data();
      emit_tile_row(src.data(), strip_h);
      strip_rows_ = 0;
    }
  }
}

void RasterWriter::emit_tile_row(const float* const* rows_of_band, std::int64_t n_rows) {
  emit_tiles(rows_of_band, static_cast<std::size_t>(grid_.width), 0, grid_.width, n_rows);
  feed_overviews(rows_of_band, static_cast<std::size_t>(grid_.width), n_rows);
  ++tile_row_;
}

void RasterWriter::feed_overviews(const float* const* rows_of_band, std::size_t stride,
                                  std::int64_t n_rows) {
  if (overviews_) overviews_->push_rows(rows_of_band, n_rows, stride);
}

void RasterWriter::write_window(const float* const* bands, const Window& win) {
  const std::int64_t strip_h =
      std::min<std::int64_t>(opt_.tile, grid_.height - tile_row_ * opt_.tile);
  // A window spans its tile row's full height (tiles written straight from it) or, when the
  // tiles are taller than the windows (a COG's 512-cell tiles), the next rows of it (staged).
  const bool whole = strip_rows_ == 0 && win.rows == strip_h;
  const bool aligned = win.row == next_row_ && (whole || win.rows <= strip_h - strip_rows_) &&
                       win.col == next_col_ && win.col % segment_columns(opt_.tile) == 0 &&
                       (win.cols % segment_columns(opt_.tile) == 0 ||
                        win.col + win.cols == grid_.width) &&
                       win.col + win.cols <= grid_.width;
  if (!aligned) {
    throw std::logic_error("RasterWriter::write_window: window (col " + std::to_string(win.col) +
                           ", row " + std::to_string(win.row) + ", " + std::to_string(win.cols) +
                           " x " + std::to_string(win.rows) +
                           ") is not the next segment-aligned part of a tile row");
  }
  if (!whole) {
    stage_window(bands, win, strip_h);
    return;
  }
  emit_tiles(bands, static_cast<std::size_t>(win.cols), win.col, win.cols, win.rows);
  const auto width = static_cast<std::size_t>(grid_.width);
  if (overviews_) {
    // Overviews need whole rows: the tile row is gathered until its last window.
    if (ovr_strip_.empty()) {
      ovr_strip_.assign(opt_.band_descriptions.size(),
                        std::vector<float>(static_cast<std::size_t>(opt_.tile) * width));
    }
    copy_window(bands, win, ovr_strip_, 0);
  }
  next_col_ = win.col + win.cols;
  if (next_col_ == grid_.width) {
    if (overviews_) {
      std::vector<const float*> rows;
      for (const auto& v : ovr_strip_) rows.push_back(v.data());
      feed_overviews(rows.data(), width, win.rows);
    }
    next_col_ = 0;
    next_row_ += strip_h;
    ++tile_row_;
  }
}

void RasterWriter::copy_window(const float* const* bands, const Window& win,
                               std::vector<std::vector<float>>& strip, std::int64_t first_row) {
  const auto width = static_cast<std::size_t>(grid_.width);
  for (std::size_t b = 0; b < strip.size(); ++b) {
    for (std::int64_t r = 0; r < win.rows; ++r) {
      std::memcpy(strip[b].data() + static_cast<std::size_t>(first_row + r) * width +
                      static_cast<std::size_t>(win.col),
                  bands[b] + static_cast<std::size_t>(r * win.cols),
                  static_cast<std::size_t>(win.cols) * sizeof(float));
    }
  }
}

void RasterWriter::stage_window(const float* const* bands, const Window& win,
                                std::int64_t strip_h) {
  if (strip_.empty()) {
    strip_.assign(opt_.band_descriptions.size(),
                  std::vector<float>(static_cast<std::size_t>(opt_.tile) *
                                         static_cast<std::size_t>(grid_.width),
                                     static_cast<float>(opt_.nodata)));
  }
  copy_window(bands, win, strip_, strip_rows_);
  next_col_ = win.col + win.cols;
  if (next_col_ < grid_.width) return;
  next_col_ = 0;
  next_row_ += win.rows;
  strip_rows_ += win.rows;
  if (strip_rows_ == strip_h) {
    std::vector<const float*> src;
    for (const auto& v : strip_) src.push_back(v.data());
    emit_tile_row(src.data(), strip_h);
    strip_rows_ = 0;
  }
}

void RasterWriter::emit_tiles(const float* const* rows_of_band, std::size_t stride,
                              std::int64_t col, std::int64_t cols, std::int64_t n_rows) {
  const auto width = static_cast<std::size_t>(grid_.width);
  const auto t = static_cast<std::size_t>(opt_.tile);
  const std::int64_t end = col + cols;
  const std::int64_t seg = segment_columns(opt_.tile);
  for (std::int64_t s0 = col; s0 < end; s0 += seg) {
    const std::int64_t s1 = std::min(end, s0 + seg);
    const std::int64_t tx0 = s0 / opt_.tile;
    const std::int64_t tx1 = (s1 + opt_.tile - 1) / opt_.tile;
    // Band-interleaved within a segment: its tiles of band 1, then of band 2, ...
    for (std::size_t b = 0; b < opt_.band_descriptions.size(); ++b) {
      GDALRasterBand* band = ds_->GetRasterBand(static_cast<int>(b) + 1);
      const float* rows = rows_of_band[b];
      for (std::int64_t tx = tx0; tx < tx1; ++tx) {
        const std::size_t c0 = static_cast<std::size_t>(tx) * t;
        const std::size_t n_cols = std::min(t, width - c0);
        const std::size_t src_col = c0 - static_cast<std::size_t>(col);
        // Padding beyond the grid edge is nodata so that compressed bytes are deterministic.
        std::fill(tile_.begin(), tile_.end(), static_cast<float>(opt_.nodata));
        for (std::size_t r = 0; r < static_cast<std::size_t>(n_rows); ++r) {
          std::memcpy(tile_.data() + r * t, rows + r * stride + src_col, n_cols * sizeof(float));
        }
        void* block = tile_.data();
        if (!tile_bytes_.empty()) {
          // A Byte file: class values 0..255, handed in as floats.
          std::transform(tile_.begin(), tile_.end(), tile_bytes_.begin(),
                         [](float v) { return static_cast<std::uint8_t>(v); });
          block = tile_bytes_.data();
        }
        reset_gdal_error();
        errno = 0;
        if (band->WriteBlock(static_cast<int>(tx), static_cast<int>(tile_row_), block) != CE_None) {
          const int err = errno;
          throw io_error("output " + shown_path().string() + ": writing tile row " +
                         std::to_string(tile_row_) + " failed: " +
                         failure_text(last_gdal_error(), err, path_.parent_path()));
        }
      }
    }
  }
}

void RasterWriter::set_statistics(int band, double min, double max, double mean, double stddev) {
  reset_gdal_error();
  if (ds_->GetRasterBand(band)->SetStatistics(min, max, mean, stddev) != CE_None) {
    throw io_error("output " + shown_path().string() + ": storing band " + std::to_string(band) +
                   " statistics failed: " + failure_text(last_gdal_error(), errno, path_.parent_path()));
  }
}

void RasterWriter::set_band_metadata(int band, const std::string& key, const std::string& value) {
  reset_gdal_error();
  if (ds_->GetRasterBand(band)->SetMetadataItem(key.c_str(), value.c_str()) != CE_None) {
    throw io_error("output " + shown_path().string() + ": storing band " + std::to_string(band) +
                   " metadata " + key + " failed: " +
                   failure_text(last_gdal_error(), errno, path_.parent_path()));
  }
}

void RasterWriter::close() {
  if (next_row_ != grid_.height) {
    throw io_error("output " + shown_path().string() + ": only " + std::to_string(next_row_) + " of " +
                   std::to_string(grid_.height) + " rows were written");
  }
  reset_gdal_error();
  errno = 0;
  close_dataset();
  // Write errors (e.g. a full disk) often surface only when the file is closed.
  if (gdal_failed()) {
    const int err = errno;
    throw io_error("output " + shown_path().string() + ": writing failed: " +
                   failure_text(last_gdal_error(), err, path_.parent_path()));
  }
  if (overviews_) overviews_->close();
  closed_ = true;
}

}  // namespace gp::geo
