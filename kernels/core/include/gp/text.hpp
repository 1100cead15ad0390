#pragma once
// Small text helpers shared by the model reader, geo/ and the outputs: "did you mean"
// suggestions, XML escaping and locale-independent number text ("." decimals whatever the
// locale, since model files, QGIS styles and CSV tables are read with the C locale).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gp::text {

/// Levenshtein distance (insertions, deletions and substitutions of single bytes).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` by edit_distance when it is within max(2, size / 3) edits
/// (the first one on a tie), or an empty string when none is that close.
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

/// `s` with & < > " ' replaced by their XML entities (safe in element text and attributes).
std::string xml_escape(std::string_view s);

/// The shortest text that reads back as exactly `v` (std::to_chars without a format: plain
/// or exponent notation, whichever is shorter): "0.1", "1e+20", "nan", "inf".
std::string shortest(double v);

/// Like shortest(), but plain digits (no exponent) for 0 and for magnitudes in [1e-4, 1e16),
/// so that coordinates and cell sizes read "900000" rather than "9e+05".
std::string shortest_plain(double v);

/// Lower-case hexadecimal of `n` bytes (digests: "9f86d0...").
std::string hex(const unsigned char* bytes, std::size_t n);

/// `v` rounded to `digits` significant digits, %g style ("0.1235", "1.235e+06").
std::string significant(double v, int digits);

/// ASCII upper / lower case (bytes >= 0x80 unchanged), independent of the C locale: codes,
/// keys and names compared without case.
std::string upper(std::string s);
std::string lower(std::string s);

}  // namespace gp::text
