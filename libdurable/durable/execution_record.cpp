#include "durable/execution_record.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "durable/execution_fields.hpp"
#include "durable/ids.hpp"

namespace durable {

namespace {

constexpr std::array<std::string_view, 5> kind_names{
  "task", "parent", "sequence", "loop", "sleeping"};

nlohmann::json embed(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(text) : parsed;
}

// -- one field as JSON (to_json) ---------------------------------------------

template <class Field>
nlohmann::json value_of(const Field& f, const std::string& s) {
  return f.payload ? embed(s) : nlohmann::json(s);
}

template <class Field>
nlohmann::json value_of(const Field&, timestamp t) {
  return to_micros(t);
}

template <class Field>
nlohmann::json value_of(const Field&, millis d) {
  return d.count();
}

template <class Field>
nlohmann::json value_of(const Field&, task_kind k) {
  return to_string(k);
}

template <class Field>
nlohmann::json value_of(const Field&, execution_status s) {
  return to_string(s);
}

/// The other types as their own to_json makes them.
template <class Field, class T>
requires std::is_arithmetic_v<T> || std::is_class_v<T> nlohmann::json
value_of(const Field&, const T& x) {
  return x;
}

// -- one field from JSON (from_json) ------------------------------------------

template <class Field>
void read(const Field& f, const nlohmann::json& j, std::string& s) {
  s = f.payload ? j.dump() : j.get<std::string>();
}

template <class Field>
void read(const Field&, const nlohmann::json& j, timestamp& t) {
  t = from_micros(j.get<std::int64_t>());
}

template <class Field>
void read(const Field&, const nlohmann::json& j, millis& d) {
  d = millis{j.get<std::int64_t>()};
}

template <class Field>
void read(const Field& f, const nlohmann::json& j, task_kind& k) {
  auto name = j.get<std::string>();
  for (std::size_t i = 0; i < kind_names.size(); ++i)
    if (kind_names[i] == name) {
      k = static_cast<task_kind>(i);
      return;
    }
  throw std::invalid_argument("unknown " + std::string{f.json_key} + " "
                              + name);
}

template <class Field>
void read(const Field& f, const nlohmann::json& j, execution_status& s) {
  auto name = j.get<std::string>();
  auto parsed = parse_status(name);
  if (!parsed)
    throw std::invalid_argument("unknown " + std::string{f.json_key} + " "
                                + name);
  s = *parsed;
}

template <class Field, class T>
requires std::is_arithmetic_v<T> || std::is_class_v<T>
void read(const Field&, const nlohmann::json& j, T& x) {
  j.get_to(x);
}

} // namespace

std::string_view to_string(task_kind k) noexcept {
  auto i = static_cast<std::size_t>(k);
  return i < kind_names.size() ? kind_names[i] : "unknown";
}

void to_json(nlohmann::json& j, const execution_ref& r) {
  j = nlohmann::json{{"task_id", r.task_id}, {"execution_id", r.execution_id}};
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
  j = nlohmann::json::object();
  fields::for_each([&](const auto& f) {
    const auto& x = f.of(r);
    if constexpr (fields::is_optional<std::remove_cvref_t<decltype(x)>>) {
      if (x)
        j[f.json_key] = value_of(f, *x);
    } else {
      j[f.json_key] = value_of(f, x);
    }
  });
}

void from_json(const nlohmann::json& j, execution_record& r) {
  r = execution_record{};
  fields::for_each([&](const auto& f) {
    auto& x = f.of(r);
    using type = std::remove_cvref_t<decltype(x)>;
    if constexpr (fields::is_optional<type>) {
      auto it = j.find(f.json_key);
      if (it == j.end() || it->is_null())
        return;
      if constexpr (std::is_same_v<type, shared_text>)
        x = it->template get<std::string>();
      else
        read(f, *it, x.emplace());
    } else {
      read(f, j.at(f.json_key), x);
    }
  });
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
