#include "gp/geo/overviews.hpp"

#include "gp/error.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace gp::geo {

namespace fs = std::filesystem;

std::vector<std::pair<std::int64_t, std::int64_t>> cog_overview_sizes(std::int64_t width,
                                                                      std::int64_t height,
                                                                      int block) {
  std::vector<std::pair<std::int64_t, std::int64_t>> sizes;
  std::int64_t f = 1;
  std::int64_t w = width;
  std::int64_t h = height;
  while (w > block || h > block) {
    f *= 2;
    w = (width + f - 1) / f;
    h = (height + f - 1) / f;
    sizes.emplace_back(w, h);
  }
  return sizes;
}

namespace {

/// The source span of one destination pixel along one axis, with GDAL's edge weights.
struct Span {
  std::int64_t first{0};
  std::int64_t end{0};
  double first_weight{1.0};
  double last_weight{1.0};
};

Span span_of(std::int64_t i, double ratio, std::int64_t src_size) {
  // GDAL's window: [floor(i r), ceil((i+1) r)) with an epsilon against rounding, at least one
  // pixel, clipped to the source; partly covered end pixels weigh what they cover.
  const double a = static_cast<double>(i) * ratio;
  const double b = static_cast<double>(i + 1) * ratio;
  Span s;
  s.first = static_cast<std::int64_t>(a + 1e-8);
  s.end = static_cast<std::int64_t>(std::ceil(b - 1e-8));
  if (s.end == s.first) ++s.end;
  s.end = std::min(s.end, src_size);
  s.first_weight = s.end == s.first + 1 ? 1.0 : 1.0 - (a - static_cast<double>(s.first));
  s.last_weight = 1.0 - (static_cast<double>(s.end) - b);
  return s;
}

}  // namespace

/// One overview level: a few rows of the level above, averaged into rows of this level as soon
/// as they are complete, written to this level's file and handed to the next level.
class OverviewLevel {
 public:
  OverviewLevel(std::int64_t src_w, std::int64_t src_h, const Grid& grid, WriterOptions options,
                const fs::path& path, OverviewLevel* next)
      : src_w_(src_w),
        src_h_(src_h),
        dst_w_(grid.width),
        dst_h_(grid.height),
        n_bands_(options.band_descriptions.empty() ? 1 : options.band_descriptions.size()),
        nodata_(static_cast<float>(options.nodata)),
        mode_(options.overview_resampling == "MODE"),
        writer_(path, grid, std::move(options)),
        next_(next) {
    const double rx = static_cast<double>(src_w_) / static_cast<double>(dst_w_);
    for (std::int64_t j = 0; j < dst_w_; ++j) x_.push_back(span_of(j, rx, src_w_));
    ry_ = static_cast<double>(src_h_) / static_cast<double>(dst_h_);
    buf_.resize(n_bands_);
    out_.assign(n_bands_, std::vector<float>(static_cast<std::size_t>(dst_w_)));
    for (auto& o : out_) out_ptrs_.push_back(o.data());
    // GDAL's replacement for an average that lands on the nodata value.
    replacement_ = nodata_ == std::numeric_limits<float>::max()
                       ? std::nextafter(nodata_, 0.0f)
                       : std::nextafter(nodata_, std::numeric_limits<float>::max());
  }

  void push_row(const float* const* rows) {
    const auto w = static_cast<std::size_t>(src_w_);
    for (std::size_t b = 0; b < n_bands_; ++b) buf_[b].insert(buf_[b].end(), rows[b], rows[b] + w);
    ++buf_rows_;
    while (next_dst_ < dst_h_) {
      const Span y = span_of(next_dst_, ry_, src_h_);
      if (buf_first_ + buf_rows_ < y.end) break;
      for (std::size_t b = 0; b < n_bands_; ++b) {
        if (mode_) {
          mode_row(b, y);
        } else {
          average_row(b, y);
        }
      }
      writer_.write_rows(out_ptrs_.data(), 1);
      if (next_ != nullptr) next_->push_row(out_ptrs_.data());
      ++next_dst_;
      // Rows above the next destination row's span are no longer needed.
      const std::int64_t keep_from =
          next_dst_ < dst_h_ ? span_of(next_dst_, ry_, src_h_).first : buf_first_ + buf_rows_;
      const std::int64_t drop = keep_from - buf_first_;
      if (drop > 0) {
        for (auto& v : buf_) v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(drop * src_w_));
        buf_first_ += drop;
        buf_rows_ -= drop;
      }
    }
  }

  void close() {
    if (next_dst_ != dst_h_) {
      throw io_error("overview " + writer_.shown_path().string() + ": only " +
                     std::to_string(next_dst_) + " of " + std::to_string(dst_h_) +
                     " rows were computed");
    }
    writer_.close();
  }

 private:
  void average_row(std::size_t b, const Span& y) {
    const float* base = buf_[b].data();
    float* out = out_[b].data();
    for (std::int64_t j = 0; j < dst_w_; ++j) {
      const Span& x = x_[static_cast<std::size_t>(j)];
      double total = 0.0;
      double weight = 0.0;
      std::int64_t count = 0;
      for (std::int64_t r = y.first; r < y.end; ++r) {
        const float* row = base + (r - buf_first_) * src_w_;
        double line = 0.0;
        double line_w = 0.0;
        for (std::int64_t c = x.first; c < x.end; ++c) {
          const float v = row[c];
          if (v == nodata_) continue;
          const double wx = c == x.first ? x.first_weight : (c + 1 == x.end ? x.last_weight : 1.0);
          ++count;
          line += static_cast<double>(v) * wx;
          line_w += wx;
        }
        const double wy = r == y.first ? y.first_weight : (r + 1 == y.end ? y.last_weight : 1.0);
        total += line * wy;
        weight += line_w * wy;
      }
      float v = nodata_;
      if (count > 0) {
        v = static_cast<float>(total / weight);
        if (v == nodata_) v = replacement_;
      }
      out[j] = v;
    }
  }

  /// GDAL's MODE for a Byte band (GDALResampleChunk_Mode): the same source window as the
  /// average but unweighted; nodata cells left out; scanning the window row by row, the value
  /// whose count first exceeds every other count so far wins (so a tie goes to the value that
  /// reached the count first); no valid cell gives nodata.
  void mode_row(std::size_t b, const Span& y) {
    const float* base = buf_[b].data();
    float* out = out_[b].data();
    for (std::int64_t j = 0; j < dst_w_; ++j) {
      const Span& x = x_[static_cast<std::size_t>(j)];
      int best = -1;
      int best_n = 0;
      for (std::int64_t r = y.first; r < y.end; ++r) {
        const float* row = base + (r - buf_first_) * src_w_;
        for (std::int64_t c = x.first; c < x.end; ++c) {
          if (row[c] == nodata_) continue;
          const auto v = static_cast<std::size_t>(row[c]) & 255U;
          if (++mode_counts_[v] > best_n) {
            best = static_cast<int>(v);
            best_n = mode_counts_[v];
          }
        }
      }
      // Reset only what this pixel counted.
      for (std::int64_t r = y.first; r < y.end; ++r) {
        const float* row = base + (r - buf_first_) * src_w_;
        for (std::int64_t c = x.first; c < x.end; ++c) {
          mode_counts_[static_cast<std::size_t>(row[c]) & 255U] = 0;
        }
      }
      out[j] = best < 0 ? nodata_ : static_cast<float>(best);
    }
  }

  std::int64_t src_w_;
  std::int64_t src_h_;
  std::int64_t dst_w_;
  std::int64_t dst_h_;
  std::size_t n_bands_;
  float nodata_;
  bool mode_{false};
  std::array<int, 256> mode_counts_{};
  float replacement_{0.0f};
  double ry_{2.0};
  std::vector<Span> x_;
  std::vector<std::vector<float>> buf_;  // per band, rows [buf_first_, buf_first_ + buf_rows_)
  std::int64_t buf_first_{0};
  std::int64_t buf_rows_{0};
  std::int64_t next_dst_{0};
  std::vector<std::vector<float>> out_;
  std::vector<float*> out_ptrs_;
  RasterWriter writer_;
  OverviewLevel* next_;
};

OverviewPyramid::OverviewPyramid(const Grid& grid, const WriterOptions& options,
                                 const std::vector<fs::path>& paths)
    : band_count_(options.band_descriptions.empty() ? 1 : options.band_descriptions.size()) {
  if (options.overview_resampling != "AVERAGE" &&
      !(options.overview_resampling == "MODE" && options.type == PixelType::byte)) {
    throw std::logic_error("OverviewPyramid: resampling " + options.overview_resampling +
                           " is not streamed (AVERAGE, or MODE for Byte)");
  }
  const auto sizes = cog_overview_sizes(grid.width, grid.height, options.tile);
  if (sizes.size() != paths.size()) {
    throw std::logic_error("OverviewPyramid: " + std::to_string(paths.size()) + " paths for " +
                           std::to_string(sizes.size()) + " levels");
  }
  // Built from the smallest level up so that each level knows the next one.
  std::vector<std::unique_ptr<OverviewLevel>> rev;
  for (std::size_t k = sizes.size(); k-- > 0;) {
    Grid g = grid;
    g.width = sizes[k].first;
    g.height = sizes[k].second;
    g.dx = grid.dx * static_cast<double>(grid.width) / static_cast<double>(g.width);
    g.dy = grid.dy * static_cast<double>(grid.height) / static_cast<double>(g.height);
    const std::int64_t src_w = k == 0 ? grid.width : sizes[k - 1].first;
    const std::int64_t src_h = k == 0 ? grid.height : sizes[k - 1].second;
    WriterOptions o = options;
    o.overview_paths.clear();
    o.report_as.clear();
    o.metadata.clear();
    o.category_names.clear();  // the full resolution's (its .aux.xml); levels keep the colours
    OverviewLevel* next = rev.empty() ? nullptr : rev.back().get();
    rev.push_back(std::make_unique<OverviewLevel>(src_w, src_h, g, o, paths[k], next));
  }
  levels_.assign(std::make_move_iterator(rev.rbegin()), std::make_move_iterator(rev.rend()));
}

OverviewPyramid::~OverviewPyramid() = default;

void OverviewPyramid::push_rows(const float* const* bands, std::int64_t rows, std::size_t stride) {
  if (levels_.empty()) return;
  std::vector<const float*> ptrs;
  for (std::int64_t r = 0; r < rows; ++r) {
    ptrs.clear();
    for (std::size_t b = 0; b < band_count_; ++b) {
      ptrs.push_back(bands[b] + static_cast<std::size_t>(r) * stride);
    }
    levels_.front()->push_row(ptrs.data());
  }
}

void OverviewPyramid::close() {
  for (auto& l : levels_) l->close();
}

}  // namespace gp::geo
