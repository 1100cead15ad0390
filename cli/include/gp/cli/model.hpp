#pragma once
// The model file (TOML): parsed, validated and resolved to absolute paths before any heavy work.
// Every step names its table and key in errors; unknown keys are errors with a "did you mean".

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gp::model {

struct TransformSpec {
  std::string kind{"identity"};  ///< identity | linear
  std::optional<double> min;     ///< linear: omitted -> the layer's minimum on the grid
  std::optional<double> max;     ///< linear: omitted -> the layer's maximum on the grid
};

struct LayerSpec {
  std::string name;
  std::filesystem::path path;  ///< absolute (relative paths resolve against the model file)
  int band{1};
  std::string resampling{"bilinear"};
  TransformSpec transform;
  double weight{1.0};  ///< as written; the runner normalises
  bool missing_skip{false};
};

struct GridSpec {
  std::optional<std::string> crs;
  std::optional<std::array<double, 2>> resolution;  ///< x, y cell size in CRS units
  std::optional<std::array<double, 4>> extent;      ///< xmin, ymin, xmax, ymax
};

struct CombineSpec {
  std::string method{"weighted-sum"};
};

struct OutputSpec {
  std::filesystem::path path;  ///< absolute
  std::string compress{"ZSTD"};
  double nodata{-9999.0};
};

struct Model {
  std::filesystem::path file;  ///< the model file (absolute), or empty for in-memory text
  std::string sha256;          ///< SHA-256 of the model file's bytes (hex)
  std::string name;
  GridSpec grid;
  std::vector<LayerSpec> layers;
  CombineSpec combine;
  OutputSpec output;
};

/// Reads and validates a model file. Throws gp::config_error (one line: file, key, expected).
Model load_model(const std::filesystem::path& file);

/// Parses model text; `source` names it in messages, `base_dir` resolves relative paths.
Model parse_model(std::string_view text, const std::string& source,
                  const std::filesystem::path& base_dir);

/// Hex SHA-256 of bytes.
std::string sha256_hex(std::string_view bytes);

/// The closest candidate to `word` within a small edit distance, or empty.
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace gp::model
