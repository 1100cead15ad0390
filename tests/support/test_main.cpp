// Test main: GDAL registered once, as in the application.
#include "gp/geo/gdal_env.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  gp::geo::init_gdal(64, 0);
  return RUN_ALL_TESTS();
}
