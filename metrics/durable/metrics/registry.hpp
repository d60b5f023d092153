#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/// Metrics a process exposes to Prometheus: counters, gauges and
/// histograms with fixed buckets, rendered in the text exposition format
/// (version 0.0.4). No dependency: a library user mounts render() on any
/// HTTP server (durable-node serves it as `GET /metrics`).
///
/// **Threading.** Every member function of every class here is safe to
/// call from any thread. Updating a series (inc(), set(), observe()) is a
/// few relaxed atomic operations, never a lock; looking a labelled series
/// up (family::with()) takes a shared lock, an exclusive one the first
/// time a label set is seen, so hot paths look a series up once and keep
/// the reference. Series live as long as their registry.
///
/// **Errors.** Registering a name twice, an invalid metric or label name,
/// a label count that does not match the family, or histogram bounds that
/// are not strictly increasing throw std::invalid_argument. Nothing else
/// throws except std::bad_alloc.
namespace durable::metrics {

/// A value that only goes up (`…_total`).
class counter {
public:
  /// Adds `n`.
  void inc(std::uint64_t n = 1) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  /// The total so far, 0 at first.
  std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down.
class gauge {
public:
  /// Replaces the value with `v`.
  void set(double v) noexcept {
    value_.store(v, std::memory_order_relaxed);
  }
  /// Adds `d` (negative to subtract).
  void add(double d) noexcept {
    value_.fetch_add(d, std::memory_order_relaxed);
  }
  /// The current value, 0 at first.
  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<double> value_{0};
};

/// Observations counted into fixed buckets, with their sum and count.
class histogram {
public:
  /// `bounds`: the buckets' upper bounds (inclusive), strictly increasing;
  /// `+Inf` is implied.
  explicit histogram(std::vector<double> bounds);

  /// Counts `v` into the first bucket whose upper bound is at least `v`
  /// (`+Inf` past the last) and adds it to the sum.
  void observe(double v) noexcept;

  /// The buckets' upper bounds as constructed, without `+Inf`.
  const std::vector<double>& bounds() const noexcept {
    return bounds_;
  }
  /// Observations in bucket `i` alone (not cumulative); `bounds().size()`
  /// is the `+Inf` bucket.
  std::uint64_t bucket_count(std::size_t i) const noexcept {
    return buckets_[i].load(std::memory_order_relaxed);
  }
  /// The sum of every observed value.
  double sum() const noexcept {
    return sum_.load(std::memory_order_relaxed);
  }
  /// The number of observations.
  std::uint64_t count() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

/// Buckets for durations in seconds, 1 ms to 10 s.
std::vector<double> default_seconds_buckets();

/// The kind of a metric, as its `# TYPE` line names it.
enum class metric_type : std::uint8_t { counter, gauge, histogram };

/// `counter`, `gauge` or `histogram`, as in a `# TYPE` line.
std::string_view to_string(metric_type t) noexcept;

/// The series of one metric, one per label set.
template <class T>
class family {
public:
  /// A family without series; `make` creates each new one. The registry
  /// builds families (add_counter(), …) and checks the names first.
  family(std::string name, std::string help,
         std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_(std::move(make)) {}

  /// The series with these label values (in the order of the family's
  /// label names), created at first use.
  T& with(const std::vector<std::string>& values);

  /// The metric's name, as rendered (`durable_…`).
  const std::string& name() const noexcept {
    return name_;
  }
  /// The text of its `# HELP` line.
  const std::string& help() const noexcept {
    return help_;
  }
  /// The names of its labels, in the order with() takes their values.
  const std::vector<std::string>& label_names() const noexcept {
    return label_names_;
  }

  /// Calls `fn(values, series)` for every series, ordered by label values.
  template <class F>
  void each(F&& fn) const {
    std::shared_lock lock{mtx_};
    for (const auto& [values, series] : series_)
      fn(values, *series);
  }

private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::shared_mutex mtx_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
};

/// The series of a counter (registry::add_counter()).
using counter_family = family<counter>;
/// The series of a gauge (registry::add_gauge()).
using gauge_family = family<gauge>;
/// The series of a histogram (registry::add_histogram()).
using histogram_family = family<histogram>;

/// One series of a gauge read at render time: its label values (in the
/// order of the metric's label names) and its value.
struct gauge_sample {
  /// In the order of the metric's label names.
  std::vector<std::string> label_values;
  /// The series' value now.
  double value = 0;
};

/// Every metric of a process, in the order registered.
class registry {
public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// A family without labels has its one series from the start (it reads
  /// 0 before the first update), so that rates start from a sample.
  counter_family& add_counter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});

  /// As add_counter(): a family without labels starts with its one
  /// series at 0.
  gauge_family& add_gauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});

  /// `le` is not a valid label name here: it names the bucket.
  histogram_family& add_histogram(std::string name, std::string help,
                                  std::vector<double> bounds,
                                  std::vector<std::string> label_names = {});

  /// A gauge without labels read by calling `read` at each render(), for a
  /// value another component keeps (running executions). `read` is called
  /// on the rendering thread without any lock of the registry held; what
  /// it throws is rendered as NaN.
  void add_gauge_callback(std::string name, std::string help,
                          std::function<double()> read);

  /// A labelled gauge whose series are read by calling `read` at each
  /// render(): for values another component measures now and then (the
  /// ready backlog per task), whose series may come and go. `read` is
  /// called as add_gauge_callback()'s is; a sample whose label count does
  /// not match `label_names` is left out, and when `read` throws the
  /// metric renders without series.
  void
  add_gauge_family_callback(std::string name, std::string help,
                            std::vector<std::string> label_names,
                            std::function<std::vector<gauge_sample>()> read);

  /// Every metric in the text exposition format 0.0.4: `# HELP` and
  /// `# TYPE` lines, then one line per series (histograms: cumulative
  /// `_bucket{le=…}` lines up to `+Inf`, `_sum` and `_count`).
  std::string render() const;

private:
  struct entry;
  void check_new(const std::string& name, bool histogram,
                 const std::vector<std::string>& label_names) const;
  mutable std::shared_mutex mtx_;
  std::vector<std::unique_ptr<entry>> entries_;
};

/// The HTTP Content-Type of render()'s text.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; "
                                                 "charset=utf-8";

/// `value` as a label value between double quotes: backslash, double quote
/// and newline escaped.
std::string escape_label_value(std::string_view value);

/// A number as the text format writes it: `+Inf`, `-Inf`, `NaN`, or the
/// shortest text that reads back as `v`.
std::string format_value(double v);

// -- implementation of the template -------------------------------------------

template <class T>
T& family<T>::with(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size())
    throw std::invalid_argument("metric " + name_ + " takes "
                                + std::to_string(label_names_.size())
                                + " label values");
  {
    std::shared_lock lock{mtx_};
    if (auto i = series_.find(values); i != series_.end())
      return *i->second;
  }
  std::unique_lock lock{mtx_};
  auto& slot = series_[values];
  if (!slot)
    slot = make_();
  return *slot;
}

} // namespace durable::metrics
