#pragma once
// QGIS layer styles (.qml) written beside each raster with the raster's base name, which QGIS
// loads by itself when the raster is added (QgsMapLayer::loadDefaultStyle). The XML follows
// what QGIS 3.22 writes (QgsMapLayer::saveNamedStyle) for the two raster renderers used here.

#include "gp/geo/colormap.hpp"

#include <string>
#include <vector>

namespace gp::cli {

/// A "singlebandpseudocolor" style for a score band: the colour map `colormap` interpolated
/// from `min` (low end) to `max` (high end), nodata transparent.
std::string score_qml(const std::string& colormap, double min, double max, int band = 1);

/// A "paletted" style for a class band: entry i has value i + 1, label labels[i], colour
/// colors[i]. Nodata (0) stays transparent.
std::string classes_qml(const std::vector<std::string>& labels,
                        const std::vector<geo::Rgb>& colors, int band = 1);

}  // namespace gp::cli
