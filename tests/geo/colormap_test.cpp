// geo/colormap: the tables against the colour maps' published end and middle colours.

#include "gp/geo/colormap.hpp"

#include "gp/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace {

using gp::geo::colormap;
using gp::geo::colormap_at;
using gp::geo::to_hex;

TEST(Colormap, UnknownNameIsAConfigError) {
  EXPECT_THROW(colormap("jet"), gp::config_error);
  EXPECT_FALSE(gp::geo::is_colormap("jet"));
  EXPECT_TRUE(gp::geo::is_colormap("cividis"));
  EXPECT_EQ(gp::geo::colormap_names().front(), "viridis");
  EXPECT_EQ(gp::geo::colormap_names().size(), 5u);
}

TEST(Colormap, PublishedEndColours) {
  // The hex ends quoted by matplotlib's and R viridisLite's documentation.
  EXPECT_EQ(to_hex(colormap("viridis").front()), "#440154");
  EXPECT_EQ(to_hex(colormap("viridis").back()), "#fde725");
  EXPECT_EQ(to_hex(colormap("magma").front()), "#000004");
  EXPECT_EQ(to_hex(colormap("magma").back()), "#fcfdbf");
  EXPECT_EQ(to_hex(colormap("inferno").front()), "#000004");
  EXPECT_EQ(to_hex(colormap("inferno").back()), "#fcffa4");
  EXPECT_EQ(to_hex(colormap("plasma").front()), "#0d0887");
  EXPECT_EQ(to_hex(colormap("plasma").back()), "#f0f921");
}

TEST(Colormap, ViridisMiddleAndInterpolation) {
  // viridis(3) in R: #440154, #21908C, #FDE725; allow one unit for 8-bit rounding.
  const auto mid = colormap_at("viridis", 0.5);
  EXPECT_LE(std::abs(mid.r - 0x21), 1);
  EXPECT_LE(std::abs(mid.g - 0x90), 1);
  EXPECT_LE(std::abs(mid.b - 0x8c), 1);
  EXPECT_EQ(colormap_at("viridis", -3.0), colormap("viridis").front());
  EXPECT_EQ(colormap_at("viridis", 7.0), colormap("viridis").back());
  EXPECT_EQ(colormap_at("viridis", std::nan("")), colormap("viridis").front());
  EXPECT_EQ(colormap_at("viridis", 1.0), colormap("viridis").back());
}

TEST(Colormap, LightnessRisesMonotonically) {
  // Perceptually uniform maps (except cividis's small wiggle) brighten from low to high: check
  // luma over a coarse step for the four matplotlib maps.
  for (const char* name : {"viridis", "magma", "inferno", "plasma", "cividis"}) {
    SCOPED_TRACE(name);
    double prev = -1.0;
    for (int i = 0; i < 256; i += 16) {
      const auto c = colormap(name)[static_cast<std::size_t>(i)];
      const double luma = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
      EXPECT_GT(luma, prev) << "entry " << i;
      prev = luma;
    }
  }
}

}  // namespace
