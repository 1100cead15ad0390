#include "model/groups.hpp"

#include "gp/error.hpp"

#include <functional>

namespace gp::model {

std::vector<int> group_order(const std::vector<GroupSpec>& groups) {
  auto index_of = [&](const std::string& name) {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].name == name) return static_cast<int>(g);
    }
    return -1;
  };
  std::vector<int> order;
  std::vector<int> colour(groups.size(), 0);  // 0 unseen, 1 on the path, 2 done
  std::vector<std::string> path;
  std::function<void(int)> visit = [&](int g) {
    const auto gi = static_cast<std::size_t>(g);
    colour[gi] = 1;
    path.push_back(groups[gi].name);
    for (const auto& in : groups[gi].inputs) {
      const int j = index_of(in);
      if (j < 0) continue;
      if (colour[static_cast<std::size_t>(j)] == 1) {
        std::string cycle;
        bool on = false;
        for (const auto& s : path) {
          on = on || s == in;
          if (on) cycle += s + " -> ";
        }
        throw config_error("[[group]] cycle: " + cycle + in);
      }
      if (colour[static_cast<std::size_t>(j)] == 0) visit(j);
    }
    path.pop_back();
    colour[gi] = 2;
    order.push_back(g);
  };
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (colour[g] == 0) visit(static_cast<int>(g));
  }
  return order;
}

std::vector<std::string> node_names(const Model& m) {
  std::vector<std::string> names;
  for (const auto& L : m.layers) names.push_back(L.name);
  for (int g : group_order(m.groups)) names.push_back(m.groups[static_cast<std::size_t>(g)].name);
  return names;
}

}  // namespace gp::model
