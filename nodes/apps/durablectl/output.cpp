#include "durablectl/output.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace durablectl {

namespace {

using nlohmann::json;

std::string text_of(const json& j) {
  if (j.is_string())
    return j.get<std::string>();
  if (j.is_null())
    return "-";
  return j.dump();
}

std::string field(const json& e, const char* name) {
  auto it = e.find(name);
  return it == e.end() ? std::string{"-"} : text_of(*it);
}

std::string time_field(const json& e, const char* name) {
  auto it = e.find(name);
  if (it == e.end() || !it->is_number_integer())
    return "-";
  return format_time(it->get<std::int64_t>());
}

/// The error message of an execution that ended in one, on one line and cut
/// at 80 characters (`show` prints it whole); empty otherwise.
std::string error_summary(const json& e) {
  auto it = e.find("error");
  if (it == e.end() || !it->is_object())
    return {};
  std::string message;
  for (char c : it->value("message", std::string{}))
    message += c == '\n' || c == '\r' || c == '\t' ? ' ' : c;
  constexpr std::size_t max_chars = 80;
  if (message.size() > max_chars) {
    // Cut on a character boundary: never inside a UTF-8 sequence.
    std::size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80)
      --cut;
    message = message.substr(0, cut) + "…";
  }
  return message;
}

/// Prints rows as columns padded to their widest cell.
void print_table(std::FILE* out,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    // An empty last cell (a list row without an error) leaves no padding.
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    fmt::print(out, "{}\n", line);
  }
}

void print_node(std::FILE* out, const json& node, const std::string& indent,
                bool last, bool root) {
  auto label = fmt::format("{} {} [{}]", field(node, "execution_id"),
                           field(node, "task_id"), field(node, "status"));
  if (root)
    fmt::print(out, "{}\n", label);
  else
    fmt::print(out, "{}{}{}\n", indent, last ? "└─ " : "├─ ", label);
  auto child_indent = root ? std::string{} : indent + (last ? "   " : "│  ");
  const auto& children = node.value("children", json::array());
  for (std::size_t i = 0; i < children.size(); ++i)
    print_node(out, children[i], child_indent, i + 1 == children.size(), false);
  if (node.value("truncated", false))
    fmt::print(out, "{}{}… (more not shown)\n", child_indent,
               root ? "" : "   ");
}

} // namespace

std::string format_time(std::int64_t micros) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(microseconds{micros});
  const sys_seconds s{floor<seconds>(ms)};
  // fmt 9 prints no fraction of a second for a time point: added by hand.
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", s,
                     (ms - s.time_since_epoch()).count());
}

void print_execution(std::FILE* out, const json& e) {
  std::vector<std::vector<std::string>> rows{
    {"execution", field(e, "execution_id")},
    {"task", field(e, "task_id")},
    {"kind", field(e, "kind")},
    {"status", field(e, "status")},
    {"attempt", field(e, "attempt")},
    {"created", time_field(e, "created_at_us")},
    {"started", time_field(e, "started_at_us")},
    {"finished", time_field(e, "finished_at_us")},
  };
  if (e.contains("parent"))
    rows.push_back({"parent", field(e["parent"], "execution_id")});
  if (e.contains("sleeping_id"))
    rows.push_back({"sleeping id", field(e, "sleeping_id")});
  if (e.contains("idempotency_key"))
    rows.push_back({"idempotency key", field(e, "idempotency_key")});
  if (e.contains("traceparent"))
    rows.push_back({"traceparent", field(e, "traceparent")});
  rows.push_back({"input", field(e, "input")});
  if (e.contains("output"))
    rows.push_back({"output", field(e, "output")});
  if (e.contains("error"))
    rows.push_back(
      {"error",
       fmt::format("{} ({}{})", field(e["error"], "message"),
                   field(e["error"], "kind"),
                   e["error"].value("retryable", false) ? ", retryable" : "")});
  if (e.contains("children_summary")) {
    const auto& s = e["children_summary"];
    std::string by;
    const auto by_status = s.value("by_status", json::object());
    for (const auto& [status, n] : by_status.items())
      by += fmt::format("{}{} {}", by.empty() ? "" : ", ", n.dump(), status);
    rows.push_back(
      {"children", by.empty() ? field(s, "total")
                              : fmt::format("{} ({})", field(s, "total"), by)});
  }
  for (auto& row : rows)
    row[0] += ":";
  print_table(out, rows);
}

void print_list(std::FILE* out, const json& page) {
  std::vector<std::vector<std::string>> rows{
    {"EXECUTION", "TASK", "STATUS", "ATTEMPT", "CREATED", "ERROR"}};
  const auto executions = page.value("executions", json::array());
  for (const auto& e : executions)
    rows.push_back({field(e, "execution_id"), field(e, "task_id"),
                    field(e, "status"), field(e, "attempt"),
                    time_field(e, "created_at_us"), error_summary(e)});
  print_table(out, rows);
  if (page.contains("next_cursor") && page["next_cursor"].is_string())
    fmt::print(out, "next page: --cursor {}\n",
               page["next_cursor"].get<std::string>());
}

void print_tree(std::FILE* out, const json& tree) {
  print_node(out, tree.at("root"), "", true, true);
}

void print_stats(std::FILE* out, const json& counts) {
  std::vector<std::vector<std::string>> rows{{"STATUS", "COUNT"}};
  const auto by_status = counts.value("by_status", json::object());
  for (const auto& [status, n] : by_status.items())
    rows.push_back({status, n.dump()});
  rows.push_back({"total", field(counts, "total")});
  print_table(out, rows);
}

} // namespace durablectl
