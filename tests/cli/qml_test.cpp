// cli/qml: the QGIS styles are well-formed XML (GDAL's parser and Python's strict one) with the
// renderer, ramp and palette QGIS needs; numbers never take a locale's decimal comma.

#include "outputs/qml.hpp"

#include "gp/text.hpp"
#include "outputs_support.hpp"
#include "test_support.hpp"

#include <cpl_minixml.h>
#include <gtest/gtest.h>

#include <clocale>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct XmlDeleter {
  void operator()(CPLXMLNode* n) const { CPLDestroyXMLNode(n); }
};
using Xml = std::unique_ptr<CPLXMLNode, XmlDeleter>;

Xml parse(const std::string& text) { return Xml(CPLParseXMLString(text.c_str())); }

/// Python's expat parser: strict well-formedness.
void expect_strict_xml(const std::string& text) {
  const fs::path p = gp::test::scratch_dir() / "style.qml";
  std::ofstream(p) << text;
  const auto r = gp::test::run_command(
      "/usr/bin/python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' '" +
      p.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

std::vector<CPLXMLNode*> children(CPLXMLNode* parent, const char* name) {
  std::vector<CPLXMLNode*> out;
  for (CPLXMLNode* c = parent != nullptr ? parent->psChild : nullptr; c != nullptr; c = c->psNext) {
    if (c->eType == CXT_Element && std::string(c->pszValue) == name) out.push_back(c);
  }
  return out;
}

TEST(ScoreQml, PseudocolourRampOverMinMax) {
  const std::string q = gp::cli::score_qml("viridis", 0.0894, 0.6774);
  expect_strict_xml(q);
  Xml root = parse(q);
  ASSERT_TRUE(root);
  CPLXMLNode* qgis = CPLGetXMLNode(root.get(), "=qgis");
  ASSERT_NE(qgis, nullptr);
  CPLXMLNode* r = CPLGetXMLNode(qgis, "pipe.rasterrenderer");
  ASSERT_NE(r, nullptr);
  EXPECT_STREQ(CPLGetXMLValue(r, "type", ""), "singlebandpseudocolor");
  EXPECT_STREQ(CPLGetXMLValue(r, "band", ""), "1");
  EXPECT_STREQ(CPLGetXMLValue(r, "classificationMin", ""), "0.0894");
  EXPECT_STREQ(CPLGetXMLValue(r, "classificationMax", ""), "0.6774");
  CPLXMLNode* shader = CPLGetXMLNode(r, "rastershader.colorrampshader");
  ASSERT_NE(shader, nullptr);
  EXPECT_STREQ(CPLGetXMLValue(shader, "colorRampType", ""), "INTERPOLATED");
  const auto items = children(shader, "item");
  ASSERT_EQ(items.size(), 33u);
  EXPECT_STREQ(CPLGetXMLValue(items.front(), "value", ""), "0.0894");
  EXPECT_STREQ(CPLGetXMLValue(items.front(), "color", ""), "#440154");
  EXPECT_STREQ(CPLGetXMLValue(items.back(), "value", ""), "0.6774");
  EXPECT_STREQ(CPLGetXMLValue(items.back(), "color", ""), "#fde725");
  CPLXMLNode* ramp = CPLGetXMLNode(shader, "colorramp");
  ASSERT_NE(ramp, nullptr);
  EXPECT_STREQ(CPLGetXMLValue(ramp, "type", ""), "gradient");
}

TEST(ScoreQml, ConstantMapStillHasARange) {
  Xml root = parse(gp::cli::score_qml("magma", 0.5, 0.5));
  CPLXMLNode* r = CPLGetXMLNode(root.get(), "=qgis.pipe.rasterrenderer");
  ASSERT_NE(r, nullptr);
  EXPECT_STREQ(CPLGetXMLValue(r, "classificationMin", ""), "0.5");
  EXPECT_STREQ(CPLGetXMLValue(r, "classificationMax", ""), "1.5");
  const auto items = children(CPLGetXMLNode(r, "rastershader.colorrampshader"), "item");
  EXPECT_STREQ(CPLGetXMLValue(items.front(), "color", ""), "#000004");
}

TEST(ScoreQml, NoDecimalCommaUnderAGermanLocale) {
  if (std::setlocale(LC_ALL, "de_DE.UTF-8") == nullptr) {
    GTEST_SKIP() << "de_DE.UTF-8 is not installed (.ci/setup.sh generates it)";
  }
  const std::string q = gp::cli::score_qml("viridis", 0.25, 0.75);
  std::setlocale(LC_ALL, "C");
  EXPECT_NE(q.find("classificationMin=\"0.25\""), std::string::npos);
  EXPECT_NE(q.find("<item value=\"0.25\" label=\"0.25\""), std::string::npos);
  EXPECT_EQ(q.find("value=\"0,"), std::string::npos);
  EXPECT_EQ(q.find("label=\"0,"), std::string::npos);
}

TEST(ClassesQml, PalettedWithEscapedLabels) {
  const std::vector<std::string> labels = {"low (< 0.3)", "mid & \"fair\"", "high (>= 0.7)"};
  const std::vector<gp::geo::Rgb> colours = {{68, 1, 84}, {33, 145, 140}, {253, 231, 37}};
  const std::string q = gp::cli::classes_qml(labels, colours);
  expect_strict_xml(q);
  Xml root = parse(q);
  CPLXMLNode* r = CPLGetXMLNode(root.get(), "=qgis.pipe.rasterrenderer");
  ASSERT_NE(r, nullptr);
  EXPECT_STREQ(CPLGetXMLValue(r, "type", ""), "paletted");
  const auto entries = children(CPLGetXMLNode(r, "colorPalette"), "paletteEntry");
  ASSERT_EQ(entries.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(std::string(CPLGetXMLValue(entries[i], "value", "")), std::to_string(i + 1));
    EXPECT_EQ(std::string(CPLGetXMLValue(entries[i], "label", "")), labels[i]);
  }
  EXPECT_STREQ(CPLGetXMLValue(entries[1], "color", ""), "#21918c");
}

TEST(XmlEscape, AllFive) {
  EXPECT_EQ(gp::text::xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
}

}  // namespace
