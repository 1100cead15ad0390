// `geoprospect territories [--notes]`: the built-in territories, one per line: code, name, CRS.

#include "app/commands.hpp"
#include "gp/geo/territory.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

namespace gp::cli {

std::function<void()> setup_territories(CLI::App& app, GlobalOptions& /*global*/) {
  auto notes = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "territories", "List the built-in territories ([grid] territory = CODE): code, name, CRS");
  cmd->add_flag("--notes", *notes, "Also say why each territory has its CRS");
  return [notes]() {
    std::size_t wc = 4;
    std::size_t wn = 4;
    for (const auto& t : geo::territories()) {
      wc = std::max(wc, t.code.size());
      wn = std::max(wn, t.name.size());
    }
    const int c = static_cast<int>(wc);
    const int n = static_cast<int>(wn);
    std::printf("%-*s  %-*s  %s\n", c, "CODE", n, "NAME", "CRS");
    for (const auto& t : geo::territories()) {
      std::printf("%-*s  %-*s  %s\n", c, t.code.c_str(), n, t.name.c_str(), t.crs.c_str());
      if (*notes) std::printf("%-*s  %s\n", c, "", t.crs_note.c_str());
    }
    std::printf("\nAliases: US = USA, UK = GBR, AK = ALASKA, HI = HAWAII, US-PR = PR (and the "
                "other insular areas). Boundaries: Natural Earth 1:50m; US states, DC and "
                "insular areas: U.S. Census Bureau 2019, 1:10,000,000 (public domain).\n");
  };
}

}  // namespace gp::cli
