#pragma once
// Numbers in messages, without locale influence: model and command-line errors quote the
// values and bounds they refuse, and a bound such as DBL_MAX must read "1.7976931348623157e+308",
// not 309 digits (std::to_string prints "%f").

#include <charconv>
#include <string>

namespace gp {

/// Shortest representation that round-trips; plain digits (no exponent) for the magnitudes of
/// coordinates and cell sizes, so messages read "900000" rather than "9e+05".
inline std::string format_double(double v) {
  char buf[64];
  const double a = v < 0 ? -v : v;
  const auto fmt = (a == 0.0 || (a >= 1e-4 && a < 1e16)) ? std::chars_format::fixed
                                                         : std::chars_format::general;
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, fmt);
  return std::string(buf, res.ptr);
}

}  // namespace gp
