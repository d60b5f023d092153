#include "durable/nodes/http/views.hpp"

#include <algorithm>

#include "durable/status.hpp"

namespace durable::nodes::http {

namespace {

const char* jitter_name(jitter_mode m) {
  switch (m) {
    case jitter_mode::full:
      return "full";
    case jitter_mode::equal:
      return "equal";
    case jitter_mode::none:
      break;
  }
  return "none";
}

/// The record's JSON form (to_json), with the retry's jitter named as the
/// enqueue options name it, not numbered as the stores keep it.
nlohmann::json record_json(const execution_record& r) {
  nlohmann::json j = r;
  if (auto it = j.find("retry"); it != j.end() && it->is_object())
    (*it)["jitter"] = jitter_name(r.retry.jitter);
  return j;
}

bool can_have_children(const execution_record& r) {
  return r.kind == task_kind::parent || r.kind == task_kind::sequence
         || r.kind == task_kind::loop;
}

struct tree_walk {
  durable::store& store;
  tree_limits limits;
  std::size_t nodes = 0;

  nlohmann::json visit(const execution_record& r, std::size_t depth) {
    ++nodes;
    auto node = summary_json(r);
    node["children"] = nlohmann::json::array();
    // Only parents have children; don't ask the store about the others.
    if (!can_have_children(r))
      return node;
    if (depth >= limits.max_depth || nodes >= limits.max_nodes) {
      node["truncated"] = true;
      return node;
    }
    for (const auto& child : store.children_of(r.id)) {
      if (nodes >= limits.max_nodes) {
        node["truncated"] = true;
        break;
      }
      node["children"].push_back(visit(child, depth + 1));
    }
    return node;
  }
};

} // namespace

nlohmann::json execution_json(const execution_record& r) {
  return record_json(r);
}

nlohmann::json summary_json(const execution_record& r) {
  auto j = record_json(r);
  j.erase("input");
  j.erase("output");
  j.erase("run_output");
  return j;
}

nlohmann::json counts_json(const status_counts& counts) {
  std::uint64_t total = 0;
  auto by_status = nlohmann::json::object();
  for (const auto& [status, n] : counts) {
    by_status[std::string{to_string(status)}] = n;
    total += n;
  }
  return {{"total", total}, {"by_status", std::move(by_status)}};
}

nlohmann::json execution_with_children_json(durable::store& s,
                                            const execution_record& r) {
  auto j = execution_json(r);
  status_counts counts;
  if (can_have_children(r))
    counts = s.count_by_status({.parent_id = r.id});
  j["children_summary"] = counts_json(counts);
  return j;
}

nlohmann::json tree_json(durable::store& s, const execution_record& root,
                         tree_limits limits) {
  limits.max_depth = std::min(limits.max_depth, tree_limits::max_depth_cap);
  limits.max_nodes = std::clamp<std::size_t>(limits.max_nodes, 1,
                                             tree_limits::max_nodes_cap);
  tree_walk walk{s, limits};
  auto tree = walk.visit(root, 0);
  return {{"root", std::move(tree)}, {"nodes", walk.nodes}};
}

} // namespace durable::nodes::http
