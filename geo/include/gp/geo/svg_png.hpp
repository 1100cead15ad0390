#pragma once
// A PNG of an SVG document, rendered by librsvg onto a cairo image (white background), so that
// a figure written once as SVG is also there as a picture for documents that take no SVG.

#include <filesystem>
#include <string>
#include <string_view>

namespace gp::geo {

/// Renders `svg` at its own size times `scale` into the PNG `png`. `what` names the output in
/// messages. Throws gp::io_error (an SVG librsvg cannot read, drawing or writing failed;
/// gp::host_out_of_memory when out of memory); `png` is removed on failure.
void write_svg_png(std::string_view svg, const std::filesystem::path& png, const std::string& what,
                   double scale = 1.0);

}  // namespace gp::geo
