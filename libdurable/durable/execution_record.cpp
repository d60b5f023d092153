#include "durable/execution_record.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "durable/ids.hpp"

namespace durable {

namespace {

constexpr std::array<std::string_view, 5> kind_names{
  "task", "parent", "sequence", "loop", "sleeping"};

nlohmann::json embed(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(text) : parsed;
}

void put_time(nlohmann::json& j, const char* key,
              const std::optional<timestamp>& t) {
  if (t)
    j[key] = to_micros(*t);
}

} // namespace

std::string_view to_string(task_kind k) noexcept {
  auto i = static_cast<std::size_t>(k);
  return i < kind_names.size() ? kind_names[i] : "unknown";
}

void to_json(nlohmann::json& j, const execution_ref& r) {
  j = nlohmann::json{{"task_id", r.task_id},
                     {"execution_id", r.execution_id}};
}

void from_json(const nlohmann::json& j, execution_ref& r) {
  r.task_id = j.at("task_id").get<std::string>();
  r.execution_id = j.at("execution_id").get<std::string>();
}

void to_json(nlohmann::json& j, const parent_link& p) {
  j = nlohmann::json{{"task_id", p.task_id},
                     {"execution_id", p.execution_id},
                     {"index", p.index},
                     {"is_only_child", p.is_only_child},
                     {"is_finalize", p.is_finalize}};
}

void from_json(const nlohmann::json& j, parent_link& p) {
  p.task_id = j.at("task_id").get<std::string>();
  p.execution_id = j.at("execution_id").get<std::string>();
  p.index = j.value("index", std::uint32_t{0});
  p.is_only_child = j.value("is_only_child", false);
  p.is_finalize = j.value("is_finalize", false);
}

void to_json(nlohmann::json& j, const execution_record& r) {
  j = nlohmann::json{
    {"execution_id", r.id},
    {"task_id", r.task_id},
    {"kind", to_string(r.kind)},
    {"root", r.root},
    {"retry", r.retry},
    {"sleep_before_run_ms", r.sleep_before_run.count()},
    {"timeout_ms", r.timeout.count()},
    {"input", embed(r.input)},
    {"status", to_string(r.status)},
    {"version", r.version},
    {"attempt", r.attempt},
    {"recoveries", r.recoveries},
    {"start_at_us", to_micros(r.start_at)},
    {"created_at_us", to_micros(r.created_at)},
    {"updated_at_us", to_micros(r.updated_at)},
    {"children", r.children},
    {"step", r.step},
    {"watched", r.watched},
  };
  if (r.parent)
    j["parent"] = *r.parent;
  if (r.sleeping_id)
    j["sleeping_id"] = *r.sleeping_id;
  if (r.idempotency_key)
    j["idempotency_key"] = *r.idempotency_key;
  if (r.output)
    j["output"] = embed(*r.output);
  if (r.run_output)
    j["run_output"] = embed(*r.run_output);
  if (r.error)
    j["error"] = *r.error;
  if (r.owner)
    j["owner"] = *r.owner;
  if (r.finalize)
    j["finalize"] = *r.finalize;
  put_time(j, "lease_expires_at_us", r.lease_expires_at);
  put_time(j, "started_at_us", r.started_at);
  put_time(j, "expires_at_us", r.expires_at);
  put_time(j, "waiting_for_children_started_at_us",
           r.waiting_for_children_started_at);
  put_time(j, "waiting_for_finalize_started_at_us",
           r.waiting_for_finalize_started_at);
  put_time(j, "finished_at_us", r.finished_at);
  put_time(j, "closed_at_us", r.closed_at);
}

execution_record make_execution(std::string task_id, task_kind kind,
                                const task_options& opts, std::string input,
                                timestamp now) {
  execution_record r;
  r.id = make_execution_id();
  r.task_id = std::move(task_id);
  r.kind = kind;
  r.root = {r.task_id, r.id};
  r.retry = opts.retry;
  r.sleep_before_run = opts.sleep_before_run;
  r.timeout = opts.timeout;
  r.input = std::move(input);
  r.start_at = now + opts.sleep_before_run;
  r.created_at = now;
  r.updated_at = now;
  if (kind == task_kind::sleeping) {
    r.status = execution_status::running;
    r.started_at = now;
    r.expires_at = now + opts.sleep_before_run + opts.timeout;
  }
  return r;
}

} // namespace durable
