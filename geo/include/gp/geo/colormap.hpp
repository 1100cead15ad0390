#pragma once
// Perceptually uniform colour maps (matplotlib's viridis, magma, inferno, plasma and cividis,
// released CC0 by their authors), as 256-entry 8-bit tables. Shared by the quicklook PNG and
// the QGIS styles so both show the same colours.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gp::geo {

struct Rgb {
  std::uint8_t r{0};
  std::uint8_t g{0};
  std::uint8_t b{0};
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

/// The known names, default ("viridis") first.
const std::vector<std::string_view>& colormap_names();

/// True when `name` is one of colormap_names().
bool is_colormap(std::string_view name);

/// The 256-entry table of a colour map, low values first. Throws gp::config_error when unknown.
const std::array<Rgb, 256>& colormap(std::string_view name);

/// The colour at `t` in [0, 1] (clamped; NaN gives the low end), interpolated linearly between
/// the table's entries.
Rgb colormap_at(std::string_view name, double t);

/// "#rrggbb".
std::string to_hex(Rgb c);

}  // namespace gp::geo
