#pragma once
// Weights of evidence (Bonham-Carter 1994; ArcSDM's Calculate Weights / Calculate Response).
// Training counts, per evidence layer, the cells and the deposit cells of every class in
// one streaming pass (class counts are device histograms); weights, contrasts and the
// generalisation are worked out on the host from those counts; the map (posterior, its standard
// deviation, confidence) is the normal fused kernel: each layer's class value is reclassed to its
// generalised weight and to that weight's variance, and the `logistic`, `wofe_std` and `ratio`
// combine operators finish the job (gp/kernels/program.hpp).
//
// Units: areas and counts are in unit cells (`[training] unit_cell_km2`, ArcSDM's unit cell):
// a grid cell counts as cell_area_km2 / unit_cell_km2 unit cells, a deposit as 1, once per grid
// cell. Cells that are nodata in a layer are left out of that layer's counts; the study area
// (the prior) is the union of the layers' valid cells (inside a territory mask when there is one).

#include "model/model.hpp"
#include "train/trained.hpp"
#include "gp/kernels/program.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gp::cli::wofe {

/// Weights of one binary pattern B against the deposits D; areas in unit cells.
struct Weights {
  double wplus{0.0};
  double s_wplus{0.0};
  double wminus{0.0};
  double s_wminus{0.0};
  double contrast{0.0};
  double s_contrast{0.0};
  double studc{0.0};
  bool wplus_defined{false};   ///< false: no deposit in B (or B is too small): W+ = 0, s = 0
  bool wminus_defined{false};  ///< false: every deposit in B (or not-B empty): W- = 0, s = 0
  [[nodiscard]] bool defined() const { return wplus_defined && wminus_defined; }
};

/// W+ = ln[(N(B∩D)/N(D)) / (N(B∩¬D)/N(¬D))], W- likewise with ¬B, s²(W±) = 1/N(·∩D) +
/// 1/N(·∩¬D), C = W+ - W-, s(C) = sqrt(s²(W+) + s²(W-)), studentised C = C / s(C).
/// `area_b`, `area_t`: unit cells of B and of the layer's valid area; `dep_b`, `dep_t`: deposit
/// cells. An undefined weight is 0 with standard deviation 0, and C, s(C), C/s(C) are then 0:
/// never NaN or infinity.
Weights weights(double area_b, double dep_b, double area_t, double dep_t);

/// Cells and deposit cells of one class of a layer.
struct ClassCount {
  double value{0.0};  ///< integer class value, or the class index 0..k with breaks
  std::uint64_t cells{0};
  std::uint64_t deposits{0};
};

/// One row of a weights table (ArcSDM's columns).
struct TableRow {
  double cls{0.0};
  double area_km2{0.0};    ///< CLASS_AREA (cumulative for ascending / descending)
  double area_units{0.0};  ///< AREA_UNITS
  std::uint64_t points{0}; ///< NO_POINTS
  Weights w;
  int gen_class{0};
  double weight{0.0};
  double w_std{0.0};
  std::string note;        ///< why a weight is 0 (flagged), empty when fine
};

/// The trained weights of one evidence layer.
struct LayerWeights {
  std::string layer;
  std::string type;                 ///< categorical | ascending | descending
  std::vector<ClassCount> classes;  ///< ascending class values
  std::vector<TableRow> rows;       ///< table order (cumulative order for ascending/descending)
  std::vector<double> class_weight; ///< per class (as `classes`): the generalised weight
  std::vector<double> class_std;    ///< its standard deviation
  std::vector<int> class_gen;       ///< its generalised class
  std::optional<double> threshold;  ///< cumulative: the chosen class value
  std::string threshold_rule;       ///< "max studentised contrast", "user threshold", ...
  /// cumulative: the chosen threshold in the layer's own units (a break with breaks, else the
  /// class value) and the favourable pattern it makes, e.g. "Dist2Breccia <= 1500" (without
  /// breaks, ascending) or "dist < 1500" (with breaks: class k is [b_k, b_k+1)).
  std::optional<double> threshold_value;
  std::string pattern;
  double area_units{0.0};           ///< the layer's valid area
  std::uint64_t deposits{0};        ///< deposit cells on the layer's valid cells
  std::vector<std::string> notes;   ///< flags worth a warning
};

/// ArcSDM's rule of thumb: a contrast is significant when |C/s(C)| >= 2. A cumulative layer
/// whose chosen threshold (maximum contrast or studentised contrast) falls below it gets a note
/// (warned once).
inline constexpr double significant_studc = 2.0;

/// At most this many classes for a layer without breaks whose values are not whole numbers
/// (its classes are then the values' whole parts: a continuous layer given without breaks).
inline constexpr std::size_t max_classes_without_breaks = 256;

/// Weights, generalisation and table of one layer from its class counts (any order).
/// `cell_units` = unit cells per grid cell. Throws gp::input_error for a single class, no
/// deposit, all deposits in one class, or a threshold rule no row satisfies.
LayerWeights layer_weights(const std::string& layer, const model::WofeLayerSpec& spec,
                           std::vector<ClassCount> classes, double cell_units,
                           double cell_area_km2);

/// The CSV weights table: CLASS, CLASS_AREA, AREA_UNITS, NO_POINTS, WPLUS, S_WPLUS, WMINUS,
/// S_WMINUS, CONTRAST, S_CONTRAST, STUDC, GEN_CLASS, WEIGHT, W_STD, NOTE ('.' decimals).
std::string table_csv(const LayerWeights& lw);

/// The map program. Evidence layer l reads input buffer `inputs[l]`; `mask_input` (-1: none) is
/// the input buffer of a territory mask; `n_inputs` the number of input buffers. Bands:
/// posterior, posterior_std, confidence. `n_t`, `n_d`: the study area (unit cells) and its
/// deposit cells. `breaks[l]` as the layers' specs (empty: integer classes). A layer that is
/// nodata in a cell adds neither weight nor variance there; a cell where every layer is nodata
/// is nodata. Throws gp::config_error when the program limits are exceeded.
kernels::Program map_program(const std::vector<LayerWeights>& layers,
                             const std::vector<std::vector<double>>& breaks,
                             const std::vector<int>& inputs, int n_inputs, int mask_input,
                             double n_t, double n_d, float out_nodata);

/// Class of a raw value: floor(v) without breaks, else the number of breaks <= v.
double class_of(double v, const std::vector<double>& breaks);

/// Trains a weights-of-evidence model (see train/trained.hpp).
std::unique_ptr<Trained> train(const TrainingContext& ctx);

}  // namespace gp::cli::wofe
