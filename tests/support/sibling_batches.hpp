#pragma once

#include <string>
#include <vector>

#include "durable/store.hpp"

/// Batches of a fan-out's writes as the storage actor sees them: a parent
/// storing children claimed by a node, and children's ends. For the tests
/// of sibling_ends and the commit policies.
namespace durable::test::sibling_batches {

inline const timestamp now = from_micros(1'700'000'000'000'000);
inline constexpr std::int64_t t0 = 1'000'000'000;
inline const std::string me = "node_a";

inline execution_record row(std::string id, execution_status status) {
  task_options o;
  o.id = "t";
  auto r = make_execution("t", task_kind::task, o, "null", now);
  r.id = std::move(id);
  r.status = status;
  return r;
}

inline execution_record child(std::string id, const std::string& parent,
                              execution_status status, bool finalize = false) {
  auto r = row(std::move(id), status);
  r.parent = parent_link{"p", parent, 0, false, finalize};
  return r;
}

inline execution_record claimed_child(std::string id, const std::string& parent,
                                      const std::string& owner) {
  auto r = child(std::move(id), parent, execution_status::running);
  r.owner = owner;
  return r;
}

/// The parent's write that stores `n` children claimed by `owner`.
inline transition spawn(const std::string& parent, int n,
                        const std::string& owner = me) {
  transition t;
  t.next = row(parent, execution_status::waiting_for_children);
  for (int i = 0; i < n; ++i)
    t.children.push_back(
      claimed_child(parent + "_c" + std::to_string(i), parent, owner));
  return t;
}

inline transition
end_of(const std::string& id, const std::string& parent,
       execution_status status = execution_status::completed) {
  transition t;
  t.next = child(id, parent, status);
  return t;
}

inline std::vector<write_outcome> all_applied(std::size_t n) {
  return std::vector<write_outcome>(n, write_outcome{write_status::applied,
                                                     std::nullopt});
}

} // namespace durable::test::sibling_batches
