#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

/// How durablectl shows API answers to people: aligned tables and indented
/// trees on stdout. `--json` bypasses all of this and prints the answer as
/// is, for scripts.
namespace durablectl {

/// `t` (microseconds since the epoch) as ISO-8601 in UTC,
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
std::string format_time(std::int64_t micros);

/// One execution: its fields, one per line, and its children summary.
void print_execution(std::FILE* out, const nlohmann::json& e);

/// A listing as a table (id, task, status, attempt, created, and the error
/// message of executions that ended in one) and the cursor of the next
/// page, if any.
void print_list(std::FILE* out, const nlohmann::json& page);

/// A tree, one execution per line, indented by depth.
void print_tree(std::FILE* out, const nlohmann::json& tree);

/// Counts by status as a table with a total.
void print_stats(std::FILE* out, const nlohmann::json& counts);

} // namespace durablectl
