// Fuzz target: the model-file parser. Any input either parses or raises
// gp::config_error; anything else (another exception, a crash, a sanitizer report) is a bug.
// Built as a libFuzzer target with clang (GP_FUZZ=ON), and otherwise linked with
// replay_main.cpp, a deterministic mutation driver that ctest runs in every build.

#include "model/model.hpp"
#include "gp/error.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const gp::model::Model m = gp::model::parse_model(text, "fuzz.toml", "/nonexistent/fuzz");
    // A parsed model is consistent: every layer has a name and a path, the network a final.
    if (m.layers.empty() || m.combine.final.empty()) __builtin_trap();
    for (const auto& L : m.layers) {
      if (L.name.empty() || L.path.empty()) __builtin_trap();
    }
  } catch (const gp::config_error&) {
    // The documented outcome for a bad model file.
  }
  return 0;
}
