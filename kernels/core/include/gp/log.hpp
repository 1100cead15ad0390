#pragma once
// A minimal stderr logger: one line per message, prefixed "geoprospect: ".
// --quiet lowers the level to errors only.

#include <atomic>
#include <cstdio>
#include <string>
#include <string_view>

namespace gp::log {

/// `text` kept on one line: control characters become escapes (\n, \r, \t, \xHH), so that a
/// newline in a file or layer name cannot split a message or forge a second one. Other bytes
/// (UTF-8 names) stay as they are.
inline std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

enum class Level { error = 0, warning = 1, info = 2, debug = 3 };

inline Level& level() {
  static Level l = Level::info;
  return l;
}

/// Set while a progress bar's line is open on stderr (cli/run/progress.hpp): the next message
/// ends that line first, so it starts on a line of its own ("0...10...geoprospect: ..."
/// otherwise), and the bar goes on on the next line.
inline std::atomic<bool>& progress_line_open() {
  static std::atomic<bool> open{false};
  return open;
}

inline void write(Level at, const std::string& msg) {
  if (static_cast<int>(at) > static_cast<int>(level())) return;
  const char* tag = at == Level::error ? "error: " : (at == Level::warning ? "warning: " : "");
  const char* end_bar = progress_line_open().exchange(false) ? "\n" : "";
  std::fprintf(stderr, "%sgeoprospect: %s%s\n", end_bar, tag, one_line(msg).c_str());
}

inline void info(const std::string& msg) { write(Level::info, msg); }
inline void warning(const std::string& msg) { write(Level::warning, msg); }
inline void debug(const std::string& msg) { write(Level::debug, msg); }

}  // namespace gp::log
