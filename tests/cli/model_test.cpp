// The model file: contract keys, defaults, and one clear error per mistake.
#include "model/model.hpp"
#include "gp/error.hpp"

#include <gtest/gtest.h>

namespace gm = gp::model;
namespace fs = std::filesystem;

namespace {

gm::Model parse(const std::string& text) { return gm::parse_model(text, "m.toml", "/data"); }

/// The message of the config_error that parsing `text` throws.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const gp::config_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected gp::config_error for:\n" << text;
  return {};
}

const char* minimal = R"(
[[layer]]
name = "k"
path = "k.tif"
)";

}  // namespace

TEST(Model, EmptyTextHasNoLayers) {
  EXPECT_NE(error_of("").find("no [[layer]]"), std::string::npos);
}

TEST(Model, MinimalModelDefaults) {
  const gm::Model m = parse(minimal);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.name, "m");
  EXPECT_EQ(m.layers[0].path, fs::path("/data/k.tif"));
  EXPECT_EQ(m.layers[0].band, 1);
  EXPECT_EQ(m.layers[0].resampling, "bilinear");
  EXPECT_EQ(m.layers[0].transform.kind, gp::model::TransformKind::identity);
  EXPECT_DOUBLE_EQ(m.layers[0].weight, 1.0);
  EXPECT_FALSE(m.layers[0].missing_skip);
  EXPECT_EQ(m.combine.method, gp::model::Method::weighted_sum);
  EXPECT_FALSE(m.grid.crs.has_value());
  EXPECT_FALSE(m.grid.extent.has_value());
}

TEST(Model, FullContract) {
  const gm::Model m = parse(R"(
[model]
name = "ree-demo"

[grid]
crs = "EPSG:3577"
resolution = 100.0
extent = [0, 1, 10, 11]

[[layer]]
name = "potassium"
path = "sub/k_pct.tif"
band = 2
resampling = "nearest"
transform = { kind = "linear", min = 0.2, max = 2.4 }
weight = 0.3

[[layer]]
name = "dist"
path = "/abs/d.tif"
transform = { kind = "linear", min = 5000, max = 0 }
weight = 1
missing = "skip"

[combine]
method = "weighted-sum"

[output]
path = "out/prospectivity.tif"
)");
  EXPECT_EQ(m.name, "ree-demo");
  EXPECT_EQ(*m.grid.crs, "EPSG:3577");
  EXPECT_DOUBLE_EQ((*m.grid.resolution)[0], 100.0);
  EXPECT_DOUBLE_EQ((*m.grid.resolution)[1], 100.0);
  EXPECT_DOUBLE_EQ((*m.grid.extent)[2], 10.0);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].path, fs::path("/data/sub/k_pct.tif"));
  EXPECT_EQ(m.layers[0].band, 2);
  EXPECT_EQ(m.layers[0].resampling, "nearest");
  EXPECT_EQ(m.layers[0].transform.kind, gp::model::TransformKind::linear);
  EXPECT_DOUBLE_EQ(*m.layers[0].transform.min, 0.2);
  EXPECT_DOUBLE_EQ(*m.layers[0].transform.max, 2.4);
  EXPECT_DOUBLE_EQ(m.layers[0].weight, 0.3);
  EXPECT_EQ(m.layers[1].path, fs::path("/abs/d.tif"));
  EXPECT_DOUBLE_EQ(*m.layers[1].transform.min, 5000.0);  // integers are numbers too
  EXPECT_TRUE(m.layers[1].missing_skip);
  EXPECT_EQ(m.output.path, fs::path("/data/out/prospectivity.tif"));
}

TEST(Model, LinearWithoutMinMaxTakesThemFromData) {
  const gm::Model m = parse(R"(
[[layer]]
name = "k"
path = "k.tif"
transform = { kind = "linear" }
)");
  EXPECT_FALSE(m.layers[0].transform.min.has_value());
  EXPECT_FALSE(m.layers[0].transform.max.has_value());
}

TEST(Model, SyntaxErrorGivesLineAndColumn) {
  const std::string e = error_of("[[layer]]\nname = \"k\"\npath = \n");
  EXPECT_NE(e.find("m.toml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos) << e;
}

TEST(Model, DuplicateKeyIsASyntaxError) {
  const std::string e = error_of("[[layer]]\nname = \"k\"\nname = \"j\"\npath = \"k.tif\"\n");
  EXPECT_NE(e.find("m.toml:3:"), std::string::npos) << e;
}

TEST(Model, UnknownLayerKeySuggestsClosest) {
  const std::string e = error_of(std::string(minimal) + "wieght = 0.5\n");
  EXPECT_NE(e.find("unknown key 'wieght'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("layer 'k'"), std::string::npos) << e;
}

TEST(Model, UnknownTopLevelTableSuggestsClosest) {
  const std::string e = error_of(std::string(minimal) + "[combin]\nmethod = \"weighted-sum\"\n");
  EXPECT_NE(e.find("unknown key 'combin'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'combine'"), std::string::npos) << e;
}

TEST(Model, UnknownKeyFarFromAnyListsTheValidOnes) {
  const std::string e = error_of("[grid]\nzzzzzzzz = 1\n" + std::string(minimal));
  EXPECT_NE(e.find("unknown key 'zzzzzzzz'"), std::string::npos) << e;
  EXPECT_NE(e.find("expected one of"), std::string::npos) << e;
}

TEST(Model, WeightNotANumber) {
  const std::string e = error_of(std::string(minimal) + "weight = \"heavy\"\n");
  EXPECT_NE(e.find("weight"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a number, found a string"), std::string::npos) << e;
  EXPECT_NE(e.find("layer 'k'"), std::string::npos) << e;
}

TEST(Model, NegativeWeight) {
  const std::string e = error_of(std::string(minimal) + "weight = -0.5\n");
  EXPECT_NE(e.find("expected a weight >= 0"), std::string::npos) << e;
}

TEST(Model, AllZeroWeights) {
  const std::string e = error_of(R"(
[[layer]]
name = "a"
path = "a.tif"
weight = 0
[[layer]]
name = "b"
path = "b.tif"
weight = 0.0
)");
  EXPECT_NE(e.find("all weights are 0"), std::string::npos) << e;
}

TEST(Model, NanWeightRefused) {
  const std::string e = error_of(std::string(minimal) + "weight = nan\n");
  EXPECT_NE(e.find("finite"), std::string::npos) << e;
}

TEST(Model, UnknownTransformKindSuggests) {
  const std::string e = error_of(std::string(minimal) + "transform = { kind = \"linaer\" }\n");
  EXPECT_NE(e.find("did you mean 'linear'"), std::string::npos) << e;
}

TEST(Model, LinearEqualMinMaxRefused) {
  const std::string e =
      error_of(std::string(minimal) + "transform = { kind = \"linear\", min = 3, max = 3 }\n");
  EXPECT_NE(e.find("min and max are both"), std::string::npos) << e;
}

TEST(Model, UnknownResamplingRefused) {
  const std::string e = error_of(std::string(minimal) + "resampling = \"bilinaer\"\n");
  EXPECT_NE(e.find("did you mean 'bilinear'"), std::string::npos) << e;
}

TEST(Model, BandMustBePositiveInteger) {
  EXPECT_NE(error_of(std::string(minimal) + "band = 0\n").find("band"), std::string::npos);
  EXPECT_NE(error_of(std::string(minimal) + "band = 1.5\n").find("expected an integer"),
            std::string::npos);
}

TEST(Model, DuplicateLayerNames) {
  const std::string e = error_of(std::string(minimal) + minimal);
  EXPECT_NE(e.find("duplicate layer name"), std::string::npos) << e;
}

TEST(Model, LayerWithoutPathOrName) {
  EXPECT_NE(error_of("[[layer]]\nname = \"a\"\n").find("path"), std::string::npos);
  EXPECT_NE(error_of("[[layer]]\npath = \"a.tif\"\n").find("name"), std::string::npos);
}

TEST(Model, ExtentMustBeOrdered) {
  const std::string e = error_of("[grid]\nextent = [10, 0, 0, 10]\n" + std::string(minimal));
  EXPECT_NE(e.find("xmin < xmax"), std::string::npos) << e;
}

TEST(Model, ResolutionPairAndNonPositive) {
  const gm::Model m = parse("[grid]\nresolution = [30, 40]\n" + std::string(minimal));
  EXPECT_DOUBLE_EQ((*m.grid.resolution)[1], 40.0);
  EXPECT_NE(error_of("[grid]\nresolution = 0\n" + std::string(minimal)).find("positive"),
            std::string::npos);
}

TEST(Model, UnknownCombineMethod) {
  const std::string e = error_of(std::string(minimal) + "[combine]\nmethod = \"weighted_sum\"\n");
  EXPECT_NE(e.find("did you mean 'weighted-sum'"), std::string::npos) << e;
}

TEST(Model, MissingModelFile) {
  EXPECT_THROW(gm::load_model("/nonexistent/model.toml"), gp::config_error);
}

TEST(Sha256, KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(gm::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(gm::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---- Transforms and the inference network (issue: knowledge-driven models) ----

namespace {
std::string layer_with(const std::string& name, const std::string& extra) {
  return "[[layer]]\nname = \"" + name + "\"\npath = \"" + name + ".tif\"\n" + extra + "\n";
}
}  // namespace

TEST(ModelTransforms, EveryKindParses) {
  const gm::Model m = parse(
      layer_with("a", "transform = { kind = \"large\", midpoint = 2, spread = 5 }") +
      layer_with("b", "transform = { kind = \"small\", midpoint = 2, spread = 5, invert = true }") +
      layer_with("c", "transform = { kind = \"gaussian\", midpoint = 2, spread = 0.1 }") +
      layer_with("d", "transform = { kind = \"near\", midpoint = 2, spread = 0.1 }") +
      layer_with("e", "transform = { kind = \"ms-large\", a = 1, b = 2 }") +
      layer_with("f", "transform = { kind = \"ms-small\", a = 1, b = 2 }") +
      layer_with("g", "transform = { kind = \"minmax\" }") +
      layer_with("h", "transform = \"zscore\"") +
      layer_with("i", "transform = { kind = \"percentile\" }") +
      layer_with("j", "transform = { kind = \"log\", offset = 1 }") +
      layer_with("k", "transform = { kind = \"clamp\", min = 0, max = 5 }") +
      layer_with("l", "transform = { kind = \"reclass\", table = [ { value = 3, score = 0.9 },\n"
                      "  { from = 10, to = 20, score = 0.4 } ], default = 0.1 }"));
  ASSERT_EQ(m.layers.size(), 12u);
  EXPECT_EQ(*m.layers[0].transform.midpoint, 2.0);
  EXPECT_TRUE(m.layers[1].transform.invert);
  EXPECT_EQ(*m.layers[4].transform.b, 2.0);
  EXPECT_TRUE(m.layers[6].transform.needs_minmax());
  EXPECT_TRUE(m.layers[7].transform.needs_moments());
  EXPECT_TRUE(m.layers[8].transform.needs_percentiles());
  EXPECT_EQ(m.layers[9].transform.offset, 1.0);
  ASSERT_EQ(m.layers[11].transform.table.size(), 2u);
  EXPECT_TRUE(m.layers[11].transform.table[0].is_value);
  EXPECT_EQ(m.layers[11].transform.table[1].hi, 20.0);
  EXPECT_EQ(*m.layers[11].transform.fallback, 0.1);
  // A categorical reclass defaults to nearest-neighbour resampling.
  EXPECT_EQ(m.layers[11].resampling, "nearest");
  // The simple form becomes one weighted-sum group over every layer.
  ASSERT_EQ(m.groups.size(), 1u);
  EXPECT_EQ(m.groups[0].inputs.size(), 12u);
}

TEST(ModelTransforms, MissingParameterForKind) {
  const std::string e = error_of(layer_with("u", "transform = { kind = \"large\", spread = 5 }"));
  EXPECT_NE(e.find("midpoint"), std::string::npos) << e;
  EXPECT_NE(e.find("kind \"large\" needs midpoint"), std::string::npos) << e;
  EXPECT_NE(e.find("layer 'u'"), std::string::npos) << e;
  EXPECT_NE(error_of(layer_with("u", "transform = { kind = \"ms-small\", a = 1 }")).find("needs b"),
            std::string::npos);
  EXPECT_NE(error_of(layer_with("u", "transform = { kind = \"reclass\" }")).find("table"),
            std::string::npos);
}

TEST(ModelTransforms, ParameterOfAnotherKindIsUnknown) {
  const std::string e =
      error_of(layer_with("u", "transform = { kind = \"gaussian\", midpoint = 1, spread = 1, min = 0 }"));
  EXPECT_NE(e.find("unknown key 'min'"), std::string::npos) << e;
}

TEST(ModelTransforms, ReclassOverlapsRefused) {
  const std::string e = error_of(layer_with(
      "lith", "transform = { kind = \"reclass\", table = [ { from = 0, to = 10, score = 1 }, "
              "{ from = 5, to = 15, score = 0 } ] }"));
  EXPECT_NE(e.find("entries 1 and 2 overlap"), std::string::npos) << e;
  const std::string e2 = error_of(layer_with(
      "lith", "transform = { kind = \"reclass\", table = [ { value = 3, score = 1 }, "
              "{ from = 0, to = 10, score = 0 } ] }"));
  EXPECT_NE(e2.find("overlap"), std::string::npos) << e2;
  // Touching half-open ranges do not overlap.
  EXPECT_NO_THROW(parse(layer_with(
      "lith", "transform = { kind = \"reclass\", table = [ { from = 0, to = 10, score = 1 }, "
              "{ from = 10, to = 20, score = 0 } ] }")));
}

TEST(ModelTransforms, CategoricalLayerRefusesInterpolatingResampling) {
  const std::string e = error_of(layer_with(
      "lith", "resampling = \"bilinear\"\ntransform = { kind = \"reclass\", table = [ { value = 3, "
              "score = 1 } ] }"));
  EXPECT_NE(e.find("categorical"), std::string::npos) << e;
  EXPECT_NE(e.find("nearest"), std::string::npos) << e;
  // Class breaks on a continuous layer (ranges only) may be interpolated.
  EXPECT_NO_THROW(parse(layer_with(
      "grade", "resampling = \"bilinear\"\ntransform = { kind = \"reclass\", table = [ { from = 0, "
               "to = 1, score = 1 } ] }")));
}

TEST(ModelNetwork, GroupsAndFinal) {
  const gm::Model m = parse(layer_with("la", "") + layer_with("ce", "") + layer_with("fault", "") +
                            R"(
[[group]]
name = "geochem"
method = "fuzzy-or"
inputs = ["la", "ce"]
[[group]]
name = "final"
method = "fuzzy-gamma"
inputs = ["geochem", "fault"]
gamma = 0.8
[combine]
final = "final"
[output]
bands = ["geochem", "fault"]
)");
  ASSERT_EQ(m.groups.size(), 2u);
  EXPECT_EQ(m.groups[1].gamma, 0.8);
  EXPECT_EQ(m.combine.final, "final");
  EXPECT_EQ(m.output.bands, (std::vector<std::string>{"geochem", "fault"}));
  // Default input weights: layers' weights (1), groups 1.
  EXPECT_EQ(m.groups[0].weights, (std::vector<double>{1.0, 1.0}));
}

TEST(ModelNetwork, GammaOutsideUnitInterval) {
  const std::string e = error_of(layer_with("a", "") + layer_with("b", "") +
                                 "[[group]]\nname = \"g\"\nmethod = \"fuzzy-gamma\"\n"
                                 "inputs = [\"a\", \"b\"]\ngamma = 1.5\n");
  EXPECT_NE(e.find("gamma in [0, 1]"), std::string::npos) << e;
  EXPECT_NE(error_of(layer_with("a", "") + "[combine]\nmethod = \"fuzzy-gamma\"\ngamma = -0.1\n")
                .find("gamma"),
            std::string::npos);
}

TEST(ModelNetwork, GroupReferringToItself) {
  const std::string e = error_of(layer_with("a", "") +
                                 "[[group]]\nname = \"g\"\nmethod = \"fuzzy-or\"\n"
                                 "inputs = [\"a\", \"g\"]\n");
  EXPECT_NE(e.find("[[group]] 'g'"), std::string::npos) << e;
  EXPECT_NE(e.find("refers to itself"), std::string::npos) << e;
}

TEST(ModelNetwork, CycleNamesItsGroups) {
  const std::string e = error_of(layer_with("a", "") +
                                 "[[group]]\nname = \"x\"\ninputs = [\"a\", \"y\"]\n"
                                 "[[group]]\nname = \"y\"\ninputs = [\"x\"]\n"
                                 "[[group]]\nname = \"top\"\ninputs = [\"y\"]\n");
  EXPECT_NE(e.find("cycle"), std::string::npos) << e;
  EXPECT_NE(e.find("x -> y -> x"), std::string::npos) << e;
}

TEST(ModelNetwork, UnknownNameSuggests) {
  const std::string e = error_of(layer_with("cerium", "") +
                                 "[[group]]\nname = \"g\"\ninputs = [\"ceruim\"]\n");
  EXPECT_NE(e.find("unknown layer or group 'ceruim'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'cerium'"), std::string::npos) << e;
  EXPECT_NE(error_of(layer_with("a", "") + "[output]\nbands = [\"nope\"]\n").find("'nope'"),
            std::string::npos);
}

TEST(ModelNetwork, UnusedLayersAndGroupsAreNamed) {
  const std::string e = error_of(layer_with("a", "") + layer_with("b", "") + layer_with("c", "") +
                                 "[[group]]\nname = \"side\"\ninputs = [\"c\"]\n"
                                 "[[group]]\nname = \"final\"\ninputs = [\"a\"]\n");
  EXPECT_NE(e.find("not used by the final map 'final'"), std::string::npos) << e;
  EXPECT_NE(e.find("'b'"), std::string::npos) << e;
  EXPECT_NE(e.find("'c'"), std::string::npos) << e;
  EXPECT_NE(e.find("'side'"), std::string::npos) << e;
}

TEST(ModelNetwork, CombineMethodWithGroupsIsAmbiguous) {
  const std::string e = error_of(layer_with("a", "") + "[[group]]\nname = \"g\"\ninputs = [\"a\"]\n"
                                                       "[combine]\nmethod = \"fuzzy-or\"\n");
  EXPECT_NE(e.find("each group has its own method"), std::string::npos) << e;
}
