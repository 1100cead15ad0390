#pragma once
// A minimal stderr logger: one line per message, prefixed "geoprospect: ".
// --quiet lowers the level to errors only.

#include <cstdio>
#include <string>

namespace gp::log {

enum class Level { error = 0, warning = 1, info = 2, debug = 3 };

inline Level& level() {
  static Level l = Level::info;
  return l;
}

inline void write(Level at, const std::string& msg) {
  if (static_cast<int>(at) > static_cast<int>(level())) return;
  const char* tag = at == Level::error ? "error: " : (at == Level::warning ? "warning: " : "");
  std::fprintf(stderr, "geoprospect: %s%s\n", tag, msg.c_str());
}

inline void info(const std::string& msg) { write(Level::info, msg); }
inline void warning(const std::string& msg) { write(Level::warning, msg); }
inline void debug(const std::string& msg) { write(Level::debug, msg); }

}  // namespace gp::log
