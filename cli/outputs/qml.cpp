#include "outputs/qml.hpp"

#include "gp/geo/quicklook.hpp"
#include "gp/text.hpp"

#include <cstdint>

namespace gp::cli {
namespace {

std::string rgba(geo::Rgb c) {
  return std::to_string(c.r) + "," + std::to_string(c.g) + "," + std::to_string(c.b) + ",255";
}

const char* head =
    "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
    "<qgis version=\"3.22.0\" styleCategories=\"Symbology\" hasScaleBasedVisibilityFlag=\"0\" "
    "minScale=\"1e+08\" maxScale=\"0\">\n"
    "  <pipe>\n"
    "    <provider>\n"
    "      <resampling enabled=\"false\" maxOversampling=\"2\" "
    "zoomedInResamplingMethod=\"nearestNeighbour\" "
    "zoomedOutResamplingMethod=\"nearestNeighbour\"/>\n"
    "    </provider>\n";

const char* min_max_origin =
    "      <minMaxOrigin>\n"
    "        <limits>None</limits>\n"
    "        <extent>WholeRaster</extent>\n"
    "        <statAccuracy>Exact</statAccuracy>\n"
    "        <cumulativeCutLower>0.02</cumulativeCutLower>\n"
    "        <cumulativeCutUpper>0.98</cumulativeCutUpper>\n"
    "        <stdDevFactor>2</stdDevFactor>\n"
    "      </minMaxOrigin>\n";

const char* tail =
    "    <brightnesscontrast brightness=\"0\" contrast=\"0\" gamma=\"1\"/>\n"
    "    <huesaturation colorizeOn=\"0\" colorizeRed=\"255\" colorizeGreen=\"128\" "
    "colorizeBlue=\"128\" colorizeStrength=\"100\" grayscaleMode=\"0\" saturation=\"0\" "
    "invertColors=\"0\"/>\n"
    "    <rasterresampler maxOversampling=\"2\"/>\n"
    "    <resamplingStage>resamplingFilter</resamplingStage>\n"
    "  </pipe>\n"
    "  <blendMode>0</blendMode>\n"
    "</qgis>\n";

}  // namespace

std::string score_qml(const std::string& colormap, double min, double max, int band) {
  const auto& table = geo::colormap(colormap);
  if (!(max > min)) max = min + 1.0;  // a constant map: any non-empty range shows its colour
  // The ramp's stops (every 8th table entry) for QGIS's ramp editor, and the same points as
  // shader items over min..max (QGIS interpolates linearly between items).
  std::vector<int> idx;
  for (int i = 0; i < 256; i += 8) idx.push_back(i);
  idx.push_back(255);
  std::string stops;
  for (std::size_t k = 1; k + 1 < idx.size(); ++k) {
    if (!stops.empty()) stops += ":";
    stops += text::shortest(idx[k] / 255.0) + ";" + rgba(table[static_cast<std::size_t>(idx[k])]);
  }
  std::string x = head;
  x += "    <rasterrenderer type=\"singlebandpseudocolor\" band=\"" + std::to_string(band) +
       "\" opacity=\"1\" alphaBand=\"-1\" nodataColor=\"\" classificationMin=\"" + text::shortest(min) +
       "\" classificationMax=\"" + text::shortest(max) + "\">\n";
  x += min_max_origin;
  x += "      <rastershader>\n";
  x += "        <colorrampshader colorRampType=\"INTERPOLATED\" classificationMode=\"1\" "
       "clip=\"0\" labelPrecision=\"4\" minimumValue=\"" +
       text::shortest(min) + "\" maximumValue=\"" + text::shortest(max) + "\">\n";
  x += "          <colorramp type=\"gradient\" name=\"[source]\">\n";
  x += "            <Option type=\"Map\">\n";
  x += "              <Option name=\"color1\" type=\"QString\" value=\"" + rgba(table.front()) +
       "\"/>\n";
  x += "              <Option name=\"color2\" type=\"QString\" value=\"" + rgba(table.back()) +
       "\"/>\n";
  x += "              <Option name=\"discrete\" type=\"QString\" value=\"0\"/>\n";
  x += "              <Option name=\"rampType\" type=\"QString\" value=\"gradient\"/>\n";
  x += "              <Option name=\"stops\" type=\"QString\" value=\"" + stops + "\"/>\n";
  x += "            </Option>\n";
  x += "            <prop k=\"color1\" v=\"" + rgba(table.front()) + "\"/>\n";
  x += "            <prop k=\"color2\" v=\"" + rgba(table.back()) + "\"/>\n";
  x += "            <prop k=\"discrete\" v=\"0\"/>\n";
  x += "            <prop k=\"rampType\" v=\"gradient\"/>\n";
  x += "            <prop k=\"stops\" v=\"" + stops + "\"/>\n";
  x += "          </colorramp>\n";
  for (int i : idx) {
    const double v = min + (max - min) * (i / 255.0);
    x += "          <item value=\"" + text::shortest(v) + "\" label=\"" + text::significant(v, 4) +
         "\" color=\"" + geo::to_hex(table[static_cast<std::size_t>(i)]) + "\" alpha=\"255\"/>\n";
  }
  x += "        </colorrampshader>\n";
  x += "      </rastershader>\n";
  x += "    </rasterrenderer>\n";
  x += tail;
  return x;
}

std::string classes_qml(const std::vector<std::string>& labels,
                        const std::vector<geo::Rgb>& colors, int band) {
  std::string x = head;
  x += "    <rasterrenderer type=\"paletted\" band=\"" + std::to_string(band) +
       "\" opacity=\"1\" alphaBand=\"-1\" nodataColor=\"\">\n";
  x += min_max_origin;
  x += "      <colorPalette>\n";
  for (std::size_t i = 0; i < labels.size() && i < colors.size(); ++i) {
    x += "        <paletteEntry value=\"" + std::to_string(i + 1) + "\" label=\"" +
         text::xml_escape(labels[i]) + "\" color=\"" + geo::to_hex(colors[i]) + "\" alpha=\"255\"/>\n";
  }
  x += "      </colorPalette>\n";
  x += "    </rasterrenderer>\n";
  x += tail;
  return x;
}

}  // namespace gp::cli
