#include "pg_trend.hpp"

#include <algorithm>
#include <map>
#include <string>

#include <fmt/format.h>

namespace durable::bench {

namespace {

struct statement_counts {
  long long calls = 0;
  double exec_ms = 0;
};

/// A reading's statements by id.
std::map<long long, statement_counts>
statements_of(const nlohmann::json& reading) {
  std::map<long long, statement_counts> out;
  for (const auto& s : reading.value("statements", nlohmann::json::array()))
    out[s.at("id").get<long long>()] = {s.at("calls").get<long long>(),
                                        s.at("exec_ms").get<double>()};
  return out;
}

double mb(long long bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

} // namespace

nlohmann::json pg_trend(const std::vector<nlohmann::json>& readings,
                        std::size_t top) {
  if (readings.size() < 2)
    return nullptr;
  // The statements with the most time between the first and last reading.
  std::map<long long, std::string> text;
  for (const auto& r : readings)
    for (const auto& s : r.value("statements", nlohmann::json::array()))
      text[s.at("id").get<long long>()] = s.at("query").get<std::string>();
  const auto first = statements_of(readings.front());
  const auto last = statements_of(readings.back());
  std::vector<std::pair<double, long long>> by_time;
  for (const auto& [id, c] : last) {
    auto it = first.find(id);
    by_time.emplace_back(
      c.exec_ms - (it == first.end() ? 0 : it->second.exec_ms), id);
  }
  std::sort(by_time.rbegin(), by_time.rend());
  by_time.resize(std::min(by_time.size(), top));

  nlohmann::json out;
  out["t_s"] = nlohmann::json::array();
  for (std::size_t i = 1; i < readings.size(); ++i)
    out["t_s"].push_back(readings[i].value("t_s", 0.0));

  out["statements"] = nlohmann::json::array();
  for (const auto& [total, id] : by_time) {
    nlohmann::json calls = nlohmann::json::array();
    nlohmann::json per_call = nlohmann::json::array();
    for (std::size_t i = 1; i < readings.size(); ++i) {
      auto before = statements_of(readings[i - 1]);
      auto after = statements_of(readings[i]);
      auto b = before.count(id) ? before[id] : statement_counts{};
      auto a = after.count(id) ? after[id] : b;
      auto n = a.calls - b.calls;
      calls.push_back(n);
      per_call.push_back(n > 0 ? (a.exec_ms - b.exec_ms) / n : 0.0);
    }
    out["statements"].push_back({{"query", text[id]},
                                 {"total_ms", total},
                                 {"calls", calls},
                                 {"ms_per_call", per_call}});
  }

  nlohmann::json table = {{"live_rows", nlohmann::json::array()},
                          {"dead_rows", nlohmann::json::array()},
                          {"autovacuums", nlohmann::json::array()},
                          {"heap_mb", nlohmann::json::array()}};
  for (std::size_t i = 1; i < readings.size(); ++i) {
    const auto& t = readings[i].at("table");
    table["live_rows"].push_back(t.at("live_rows"));
    table["dead_rows"].push_back(t.at("dead_rows"));
    table["autovacuums"].push_back(t.at("autovacuums"));
    table["heap_mb"].push_back(mb(t.at("heap_bytes").get<long long>()));
  }
  out["table"] = std::move(table);

  // Per index: its size, and the entries each scan read in each interval
  // (dead entries of rows that moved on count too).
  out["indexes"] = nlohmann::json::array();
  for (const auto& ix : readings.front().at("indexes")) {
    const auto name = ix.at("name").get<std::string>();
    auto find = [&](const nlohmann::json& reading) -> const nlohmann::json* {
      for (const auto& j : reading.at("indexes"))
        if (j.at("name") == name)
          return &j;
      return nullptr;
    };
    nlohmann::json sizes = nlohmann::json::array();
    nlohmann::json per_scan = nlohmann::json::array();
    for (std::size_t i = 1; i < readings.size(); ++i) {
      const auto* b = find(readings[i - 1]);
      const auto* a = find(readings[i]);
      if (!a || !b) {
        sizes.push_back(nullptr);
        per_scan.push_back(nullptr);
        continue;
      }
      sizes.push_back(mb(a->at("bytes").get<long long>()));
      auto scans = a->at("scans").get<long long>()
                   - b->at("scans").get<long long>();
      auto read = a->at("tuples_read").get<long long>()
                  - b->at("tuples_read").get<long long>();
      per_scan.push_back(scans > 0 ? static_cast<double>(read)
                                       / static_cast<double>(scans)
                                   : 0.0);
    }
    out["indexes"].push_back(
      {{"name", name}, {"mb", sizes}, {"tuples_per_scan", per_scan}});
  }
  return out;
}

void print_trend(const nlohmann::json& trend) {
  if (trend.is_null())
    return;
  const auto& t = trend.at("t_s");
  auto row = [&](const std::string& label, const nlohmann::json& values,
                 const char* f) {
    std::string line = fmt::format("{:<40.40}", label);
    for (const auto& v : values)
      line += v.is_number() ? fmt::format(fmt::runtime(f), v.get<double>())
                            : fmt::format("{:>9}", "-");
    fmt::print("{}\n", line);
  };
  fmt::print("\nPostgreSQL per interval (end of interval, s):\n");
  row("", t, "{:>9.0f}");
  // Statements start alike (WITH n AS ...): numbered, their text below.
  const auto& statements = trend.at("statements");
  fmt::print("ms per call:\n");
  for (std::size_t i = 0; i < statements.size(); ++i)
    row(fmt::format("  S{}", i + 1), statements[i].at("ms_per_call"),
        "{:>9.3f}");
  fmt::print("calls:\n");
  for (std::size_t i = 0; i < statements.size(); ++i)
    row(fmt::format("  S{}", i + 1), statements[i].at("calls"), "{:>9.0f}");
  fmt::print("index entries read per scan:\n");
  for (const auto& ix : trend.at("indexes"))
    row("  " + ix.at("name").get<std::string>(), ix.at("tuples_per_scan"),
        "{:>9.1f}");
  fmt::print("index size, MiB:\n");
  for (const auto& ix : trend.at("indexes"))
    row("  " + ix.at("name").get<std::string>(), ix.at("mb"), "{:>9.1f}");
  const auto& table = trend.at("table");
  row("table: live rows", table.at("live_rows"), "{:>9.0f}");
  row("table: dead rows", table.at("dead_rows"), "{:>9.0f}");
  row("table: autovacuums", table.at("autovacuums"), "{:>9.0f}");
  row("table: heap MiB", table.at("heap_mb"), "{:>9.1f}");
  for (std::size_t i = 0; i < statements.size(); ++i)
    fmt::print("S{}: {}\n", i + 1,
               statements[i].at("query").get<std::string>());
}

} // namespace durable::bench
