#include "durable/nodes/http/cluster_views.hpp"

#include <array>
#include <map>
#include <optional>

#include "durable/status.hpp"

namespace durable::nodes::http {

namespace {

constexpr std::array final_statuses{execution_status::completed,
                                    execution_status::failed,
                                    execution_status::timed_out,
                                    execution_status::finalize_failed,
                                    execution_status::cancelled};

std::string_view shown_state(const node_info& n, timestamp now) {
  if (n.state != node_state::stopped && now - n.heartbeat_at > node_lost_after)
    return "lost";
  return to_string(n.state);
}

} // namespace

nlohmann::json nodes_json(const std::vector<node_info>& nodes, timestamp now,
                          const std::string& this_incarnation) {
  auto list = nlohmann::json::array();
  for (const auto& n : nodes)
    list.push_back({
      {"name", n.name},
      {"incarnation", n.incarnation},
      {"version", n.version},
      {"started_at_us", to_micros(n.started_at)},
      {"heartbeat_at_us", to_micros(n.heartbeat_at)},
      {"running", n.running},
      {"slots", n.slots},
      {"free_slots", n.running < n.slots ? n.slots - n.running : 0},
      {"leader", n.leader},
      {"state", shown_state(n, now)},
    });
  return {{"now_us", to_micros(now)},
          {"this_incarnation", this_incarnation},
          {"nodes", std::move(list)}};
}

nlohmann::json tasks_json(const std::vector<std::string>& registered,
                          const std::vector<ready_backlog_entry>& backlog,
                          timestamp now) {
  struct row {
    bool registered = false;
    std::uint64_t ready = 0;
    std::optional<timestamp> oldest;
  };
  std::map<std::string, row> rows;
  for (const auto& id : registered)
    rows[id].registered = true;
  for (const auto& b : backlog) {
    auto& r = rows[b.task_id];
    r.ready = b.count;
    r.oldest = b.oldest_start_at;
  }
  auto list = nlohmann::json::array();
  for (const auto& [id, r] : rows)
    list.push_back(
      {{"task_id", id},
       {"registered", r.registered},
       {"ready", r.ready},
       {"oldest_ready_at_us", r.oldest ? nlohmann::json(to_micros(*r.oldest))
                                       : nlohmann::json(nullptr)}});
  return {{"now_us", to_micros(now)}, {"tasks", std::move(list)}};
}

nlohmann::json series_json(const std::vector<finished_count>& counts,
                           const series_range& range) {
  const auto points = static_cast<std::size_t>((range.to - range.from)
                                               / range.step);
  std::vector<std::array<std::uint64_t, final_statuses.size()>> sums(points);
  for (const auto& c : counts) {
    if (c.minute < range.from || c.minute >= range.to)
      continue;
    const auto i = static_cast<std::size_t>((c.minute - range.from)
                                            / range.step);
    for (std::size_t k = 0; k < final_statuses.size(); ++k)
      if (final_statuses[k] == c.status && i < points)
        sums[i][k] += c.count;
  }
  auto list = nlohmann::json::array();
  for (std::size_t i = 0; i < points; ++i) {
    nlohmann::json p{
      {"at_us",
       to_micros(range.from + range.step * static_cast<std::int64_t>(i))}};
    for (std::size_t k = 0; k < final_statuses.size(); ++k)
      p[std::string{to_string(final_statuses[k])}] = sums[i][k];
    list.push_back(std::move(p));
  }
  return {
    {"from_us", to_micros(range.from)},
    {"to_us", to_micros(range.to)},
    {"step_s",
     std::chrono::duration_cast<std::chrono::seconds>(range.step).count()},
    {"points", std::move(list)}};
}

} // namespace durable::nodes::http
