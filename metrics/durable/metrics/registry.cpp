#include "durable/metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <variant>

#include <fmt/format.h>

namespace durable::metrics {

namespace {

bool valid_name(std::string_view s, bool colons) {
  if (s.empty())
    return false;
  auto first = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
           || (colons && c == ':');
  };
  auto rest = [&](char c) { return first(c) || (c >= '0' && c <= '9'); };
  return first(s[0]) && std::all_of(s.begin() + 1, s.end(), rest);
}

/// Backslash and newline escaped, and double quotes when `quotes`: the
/// text format escapes label values so, HELP text without the quotes.
std::string escape(std::string_view s, bool quotes) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quotes && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view s) {
  return escape(s, false);
}

/// `{a="x",b="y"}` (with `extra` last, for `le`), or nothing without
/// labels.
std::string label_text(const std::vector<std::string>& names,
                       const std::vector<std::string>& values,
                       std::string_view extra_name = {},
                       std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty())
    return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out += ',';
    out += fmt::format("{}=\"{}\"", names[i], escape_label_value(values[i]));
  }
  if (!extra_name.empty()) {
    if (!names.empty())
      out += ',';
    out += fmt::format("{}=\"{}\"", extra_name, extra_value);
  }
  out += '}';
  return out;
}

void header(std::string& out, const std::string& name, const std::string& help,
            metric_type type) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help),
                     name, to_string(type));
}

} // namespace

std::string escape_label_value(std::string_view value) {
  return escape(value, true);
}

std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string_view to_string(metric_type t) noexcept {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

// -- histogram
// ------------------------------------------------------------------

histogram::histogram(std::vector<double> bounds)
  : bounds_(std::move(bounds)),
    buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) noexcept {
  // Buckets are few (about a dozen): a linear scan beats a binary search.
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i])
    ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<double> default_seconds_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,  0.5,    1,     2.5,  5,     10};
}

// -- registry
// -------------------------------------------------------------------

struct registry::entry {
  std::string name;
  std::variant<std::unique_ptr<counter_family>, std::unique_ptr<gauge_family>,
               std::unique_ptr<histogram_family>>
    series;
  /// For a gauge callback: its help and reader.
  std::string help;
  std::function<double()> read;
  /// For a gauge family callback (with `help`): its labels and reader.
  std::vector<std::string> label_names{};
  std::function<std::vector<gauge_sample>()> read_many{};
};

registry::registry() = default;

registry::~registry() = default;

void registry::check_new(const std::string& name, bool histogram,
                         const std::vector<std::string>& label_names) const {
  if (!valid_name(name, true))
    throw std::invalid_argument("invalid metric name: " + name);
  for (const auto& l : label_names) {
    if (!valid_name(l, false) || l.starts_with("__")
        || (histogram && l == "le"))
      throw std::invalid_argument("invalid label name for " + name + ": " + l);
  }
  for (const auto& e : entries_)
    if (e->name == name)
      throw std::invalid_argument("metric registered twice: " + name);
}

counter_family& registry::add_counter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  std::unique_lock lock{mtx_};
  check_new(name, false, label_names);
  auto f = std::make_unique<counter_family>(
    name, std::move(help), std::move(label_names),
    [] { return std::make_unique<counter>(); });
  if (f->label_names().empty())
    f->with({});
  auto& out = *f;
  entries_.push_back(
    std::make_unique<entry>(entry{std::move(name), std::move(f), {}, {}}));
  return out;
}

gauge_family& registry::add_gauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  std::unique_lock lock{mtx_};
  check_new(name, false, label_names);
  auto f = std::make_unique<gauge_family>(name, std::move(help),
                                          std::move(label_names), [] {
                                            return std::make_unique<gauge>();
                                          });
  if (f->label_names().empty())
    f->with({});
  auto& out = *f;
  entries_.push_back(
    std::make_unique<entry>(entry{std::move(name), std::move(f), {}, {}}));
  return out;
}

histogram_family&
registry::add_histogram(std::string name, std::string help,
                        std::vector<double> bounds,
                        std::vector<std::string> label_names) {
  std::unique_lock lock{mtx_};
  check_new(name, true, label_names);
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (std::isnan(bounds[i]) || std::isinf(bounds[i])
        || (i > 0 && bounds[i] <= bounds[i - 1]))
      throw std::invalid_argument("histogram bounds of " + name
                                  + " must be finite and strictly increasing");
  auto f = std::make_unique<histogram_family>(
    name, std::move(help), std::move(label_names),
    [bounds] { return std::make_unique<histogram>(bounds); });
  if (f->label_names().empty())
    f->with({});
  auto& out = *f;
  entries_.push_back(
    std::make_unique<entry>(entry{std::move(name), std::move(f), {}, {}}));
  return out;
}

void registry::add_gauge_callback(std::string name, std::string help,
                                  std::function<double()> read) {
  std::unique_lock lock{mtx_};
  check_new(name, false, {});
  entries_.push_back(std::make_unique<entry>(
    entry{std::move(name), std::unique_ptr<gauge_family>{}, std::move(help),
          std::move(read)}));
}

void registry::add_gauge_family_callback(
  std::string name, std::string help, std::vector<std::string> label_names,
  std::function<std::vector<gauge_sample>()> read) {
  std::unique_lock lock{mtx_};
  check_new(name, false, label_names);
  entries_.push_back(
    std::make_unique<entry>(entry{std::move(name),
                                  std::unique_ptr<gauge_family>{},
                                  std::move(help),
                                  {},
                                  std::move(label_names),
                                  std::move(read)}));
}

std::string registry::render() const {
  // Callbacks run without the registry's lock: they may block (a request
  // to the engine) and must not hold up registrations meanwhile.
  std::vector<const entry*> entries;
  {
    std::shared_lock lock{mtx_};
    for (const auto& e : entries_)
      entries.push_back(e.get());
  }
  std::string out;
  for (const auto* e : entries) {
    if (e->read_many) {
      std::vector<gauge_sample> samples;
      try {
        samples = e->read_many();
      } catch (...) {
        samples.clear();
      }
      // Sorted like the other families' series, so that scrapes compare.
      std::sort(samples.begin(), samples.end(),
                [](const gauge_sample& x, const gauge_sample& y) {
                  return x.label_values < y.label_values;
                });
      header(out, e->name, e->help, metric_type::gauge);
      for (const auto& s : samples)
        if (s.label_values.size() == e->label_names.size())
          out += fmt::format("{}{} {}\n", e->name,
                             label_text(e->label_names, s.label_values),
                             format_value(s.value));
      continue;
    }
    if (e->read) {
      double v;
      try {
        v = e->read();
      } catch (...) {
        v = std::nan("");
      }
      header(out, e->name, e->help, metric_type::gauge);
      out += fmt::format("{} {}\n", e->name, format_value(v));
      continue;
    }
    if (auto* c = std::get_if<std::unique_ptr<counter_family>>(&e->series)) {
      const auto& f = **c;
      header(out, f.name(), f.help(), metric_type::counter);
      f.each([&](const std::vector<std::string>& values, const counter& s) {
        out += fmt::format("{}{} {}\n", f.name(),
                           label_text(f.label_names(), values), s.value());
      });
    } else if (auto* g = std::get_if<std::unique_ptr<gauge_family>>(
                 &e->series)) {
      const auto& f = **g;
      header(out, f.name(), f.help(), metric_type::gauge);
      f.each([&](const std::vector<std::string>& values, const gauge& s) {
        out += fmt::format("{}{} {}\n", f.name(),
                           label_text(f.label_names(), values),
                           format_value(s.value()));
      });
    } else {
      const auto& f = *std::get<std::unique_ptr<histogram_family>>(e->series);
      header(out, f.name(), f.help(), metric_type::histogram);
      f.each([&](const std::vector<std::string>& values, const histogram& h) {
        // Read the buckets first and derive the count from them, so that
        // a render racing observe() still shows `+Inf` == `_count`.
        std::uint64_t cumulative = 0;
        const auto& bounds = h.bounds();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
          cumulative += h.bucket_count(i);
          auto le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
          out += fmt::format("{}_bucket{} {}\n", f.name(),
                             label_text(f.label_names(), values, "le", le),
                             cumulative);
        }
        out += fmt::format("{}_sum{} {}\n", f.name(),
                           label_text(f.label_names(), values),
                           format_value(h.sum()));
        out += fmt::format("{}_count{} {}\n", f.name(),
                           label_text(f.label_names(), values), cumulative);
      });
    }
  }
  return out;
}

} // namespace durable::metrics
