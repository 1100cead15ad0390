#pragma once
// The one evaluation order of an inference network's groups: a group comes after every group it
// reads (depth first, inputs in the order written). The model reader checks it (a cycle is an
// error naming the cycle), the program builder numbers the nodes by it, and the uncertainty
// engine names the nodes by it.

#include "model/model.hpp"

#include <string>
#include <vector>

namespace gp::model {

/// Indices into `groups`, in evaluation order. Throws gp::config_error
/// ("[[group]] cycle: a -> b -> a") when the groups read each other in a cycle.
std::vector<int> group_order(const std::vector<GroupSpec>& groups);

/// Node names in program order: the layers, then the groups in group_order.
std::vector<std::string> node_names(const Model& m);

}  // namespace gp::model
