#include "durable/nodes/http/server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/actors/executor.hpp"
#include "durable/metrics/registry.hpp"
#include "durable/nodes/http/api_error.hpp"
#include "durable/nodes/http/auth.hpp"
#include "durable/nodes/http/bulk.hpp"
#include "durable/nodes/http/cluster_views.hpp"
#include "durable/nodes/http/console.hpp"
#include "durable/nodes/http/requests.hpp"
#include "durable/nodes/http/transport.hpp"
#include "durable/nodes/http/url.hpp"
#include "durable/nodes/http/views.hpp"

namespace durable::nodes::http {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::size_t min_threads = 2;
constexpr std::size_t max_threads = 1024;
constexpr millis max_wait_cap{10 * 60 * 1000};
constexpr millis min_wait_slice{10};
constexpr millis min_deadline{100};
constexpr millis max_deadline{10 * 60 * 1000};

void send_json(response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// Whether a Content-Type names JSON: `application/json` or a
/// `application/…+json` type, with any parameters (`; charset=utf-8`).
bool is_json(std::string_view type) {
  auto essence = type.substr(0, type.find(';'));
  while (!essence.empty() && (essence.back() == ' ' || essence.back() == '\t'))
    essence.remove_suffix(1);
  std::string lower;
  for (char c : essence)
    lower.push_back(
      static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return lower == "application/json"
         || (lower.starts_with("application/") && lower.ends_with("+json"));
}

void send_error(response& res, int status, std::string_view kind,
                std::string_view message) {
  res.status = status;
  res.body = error_body(kind, message);
}

/// The routes a load balancer or an orchestrator calls: they answer while
/// the node drains and, with `public_probes`, without the token.
constexpr std::string_view health_path = "/v1/health";
constexpr std::string_view ready_path = "/v1/health/ready";

/// Whether a request target (as sent, query and all) names a probe.
bool is_probe_target(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  return path == health_path || path == ready_path;
}

/// An id no execution can have (every execution id starts with `te_`), so
/// that reading it costs the store one lookup by key and finds nothing.
constexpr const char* ping_id = "durable-ready-probe";

/// Pings a store on a thread of its own, one ping at a time, so that a
/// store that hangs costs one thread, not one per probe.
class store_pinger {
public:
  /// The store's failure, or nullopt when it answered within `timeout`.
  std::optional<std::string> ping(std::shared_ptr<store> db, millis timeout) {
    std::shared_future<void> done;
    {
      std::lock_guard guard{mtx_};
      if (in_flight_.valid()
          && in_flight_.wait_for(std::chrono::seconds{0})
               != std::future_status::ready)
        done = in_flight_; // share the ping in progress
      else {
        std::packaged_task<void()> task{
          [db = std::move(db)] { db->get(ping_id); }};
        done = task.get_future().share();
        // Detached: a ping that never returns must not hold a request, the
        // server's stop() or the process's exit.
        std::thread{std::move(task)}.detach();
        in_flight_ = done;
      }
    }
    if (done.wait_for(timeout) != std::future_status::ready)
      return fmt::format("no answer within {} ms", timeout.count());
    try {
      done.get();
      return std::nullopt;
    } catch (const std::exception& e) {
      return std::string{e.what()};
    } catch (...) {
      return std::string{"unknown failure"};
    }
  }

private:
  std::mutex mtx_;
  std::shared_future<void> in_flight_;
};

} // namespace

void validate(const server_options& opts) {
  auto fail = [](std::string what) {
    throw durable::error::non_retryable("Invalid options: " + what);
  };
  if (opts.bind_address.empty())
    fail("bind address must not be empty");
  if (opts.token.empty() && !is_loopback_address(opts.bind_address))
    fail(fmt::format("a bearer token is required to listen on {}, which is "
                     "not a loopback address",
                     opts.bind_address));
  if (opts.threads < min_threads || opts.threads > max_threads)
    fail(fmt::format("threads must be between {} and {}", min_threads,
                     max_threads));
  if (opts.max_concurrent_waits < 1
      || opts.max_concurrent_waits >= opts.threads)
    fail("max concurrent waits must be between 1 and threads - 1");
  if (opts.max_body_bytes < 1024)
    fail("max body bytes must be at least 1024");
  if (opts.max_wait < 1ms || opts.max_wait > max_wait_cap)
    fail("max wait must be between 1 ms and 10 min");
  if (opts.wait_slice < min_wait_slice || opts.wait_slice > opts.max_wait)
    fail("wait slice must be between 10 ms and max wait");
  if (opts.keep_alive_timeout < 1ms)
    fail("keep-alive timeout must be at least 1 ms");
  for (auto [name, value] : {std::pair{"header timeout", opts.header_timeout},
                             std::pair{"body timeout", opts.body_timeout},
                             std::pair{"write timeout", opts.write_timeout}})
    if (value < min_deadline || value > max_deadline)
      fail(fmt::format("{} must be between 100 ms and 10 min", name));
  if (opts.max_header_bytes < 1024 || opts.max_header_bytes > 1024 * 1024)
    fail("max header bytes must be between 1 KiB and 1 MiB");
  if (opts.max_header_fields < 1 || opts.max_header_fields > 10'000)
    fail("max header fields must be between 1 and 10000");
  if (opts.max_connections < 1 || opts.max_connections > 1'000'000)
    fail("max connections must be between 1 and 1000000");
  if (opts.max_connections_per_address < 1
      || opts.max_connections_per_address > opts.max_connections)
    fail("max connections per address must be between 1 and max "
         "connections");
  if (opts.max_json_depth < 1 || opts.max_json_depth > 1000)
    fail("max JSON depth must be between 1 and 1000");
  if (opts.max_batch_inputs < 1 || opts.max_batch_inputs > 100'000)
    fail("max batch inputs must be between 1 and 100000");
  if (opts.ready_timeout < min_wait_slice || opts.ready_timeout > 1min)
    fail("ready timeout must be between 10 ms and 1 min");
}

struct server::impl {
  /// A route of the API: its pattern, the method it serves (HEAD goes with
  /// GET) and its handler.
  struct route {
    std::regex pattern;
    std::string method;
    void (impl::*handler)(const request&, response&);
    /// The route's path as documented, the `route` label of its metrics.
    std::string name{};
    /// Its latency series, when the server counts requests.
    metrics::histogram* latency = nullptr;
  };

  durable::executor& exec;
  server_options opts;
  std::vector<route> routes;
  std::unique_ptr<transport> net;
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> waits{0};
  store_pinger pinger;
  std::atomic<std::uint64_t> next_ref{1};
  /// Requests by route and status code; null without `opts.metrics`.
  metrics::counter_family* requests = nullptr;

  impl(durable::executor& e, server_options o) : exec(e), opts(std::move(o)) {
    if (!opts.log)
      opts.log = [](std::string_view line) {
        fmt::print(stderr, "durable http: {}\n", line);
      };
    const std::string id = "([^/]+)";
    const std::string execution = "/v1/executions/{execution_id}";
    routes = {
      {std::regex{std::string{health_path}}, "GET", &impl::health,
       std::string{health_path}},
      {std::regex{std::string{ready_path}}, "GET", &impl::ready,
       std::string{ready_path}},
      {std::regex{"/v1/stats"}, "GET", &impl::stats, "/v1/stats"},
      {std::regex{"/v1/stats/series"}, "GET", &impl::series,
       "/v1/stats/series"},
      {std::regex{"/v1/nodes"}, "GET", &impl::nodes, "/v1/nodes"},
      {std::regex{"/v1/tasks"}, "GET", &impl::tasks, "/v1/tasks"},
      {std::regex{"/v1/tasks/" + id + "/executions"}, "POST", &impl::enqueue,
       "/v1/tasks/{task_id}/executions"},
      {std::regex{"/v1/tasks/" + id + "/executions/batch"}, "POST",
       &impl::enqueue_batch, "/v1/tasks/{task_id}/executions/batch"},
      {std::regex{"/v1/tasks/" + id + "/wake"}, "POST", &impl::wake,
       "/v1/tasks/{task_id}/wake"},
      {std::regex{"/v1/executions"}, "GET", &impl::list, "/v1/executions"},
      {std::regex{"/v1/executions/cancel"}, "POST", &impl::cancel_many,
       "/v1/executions/cancel"},
      {std::regex{"/v1/executions/retry"}, "POST", &impl::retry_many,
       "/v1/executions/retry"},
      {std::regex{"/v1/executions/" + id}, "GET", &impl::get, execution},
      {std::regex{"/v1/executions/" + id + "/wait"}, "GET", &impl::wait,
       execution + "/wait"},
      {std::regex{"/v1/executions/" + id + "/tree"}, "GET", &impl::tree,
       execution + "/tree"},
      {std::regex{"/v1/executions/" + id + "/cancel"}, "POST", &impl::cancel,
       execution + "/cancel"},
    };
    if (opts.metrics) {
      routes.push_back(
        {std::regex{"/metrics"}, "GET", &impl::metrics_text, "/metrics"});
      requests = &opts.metrics->add_counter(
        "durable_http_requests_total",
        "HTTP requests answered, by route and status code", {"route", "code"});
      auto& latency = opts.metrics->add_histogram(
        "durable_http_request_duration_seconds",
        "Time from the end of an HTTP request to its response being ready, "
        "by route",
        metrics::default_seconds_buckets(), {"route"});
      for (auto& r : routes)
        r.latency = &latency.with({r.name});
    }
  }

  // -- plumbing ---------------------------------------------------------------

  /// Runs a request through its route's handler; turns whatever it throws
  /// into an error response.
  response serve(const request& req) {
    const auto start = steady::now();
    response res;
    try {
      const auto& handler = routes.at(req.route).handler;
      const bool probe = handler == &impl::health || handler == &impl::ready;
      if (!probe && draining.load())
        throw api_error{503, kind_unavailable,
                        "The node is draining; send requests to another "
                        "node"};
      if (!probe && exec.is_shut_down())
        throw api_error{503, kind_unavailable, "The node is shutting down"};
      (this->*handler)(req, res);
    } catch (const api_error& e) {
      answer(req, res, e);
    } catch (const durable::error& e) {
      answer(req, res, to_api_error(e));
    } catch (const std::exception& e) {
      answer(req, res, api_error{500, kind_internal, e.what()});
    } catch (...) {
      answer(req, res, api_error{500, kind_internal, "unknown exception"});
    }
    if (requests) {
      const auto& r = routes.at(req.route);
      r.latency->observe(
        std::chrono::duration<double>(steady::now() - start).count());
      count(r.name, res.status);
    }
    return res;
  }

  /// Counts an answered request; never throws (a lost count is better than
  /// a lost response).
  void count(const std::string& route, int status) noexcept {
    try {
      requests->with({route, std::to_string(status)}).inc();
    } catch (...) {
    }
  }

  void answer(const request& req, response& res, const api_error& e) {
    if (e.status() == 503 && (draining.load() || exec.is_shut_down()))
      res.set_header("Retry-After", "1");
    if (e.status() >= 500 && e.status() != 503) {
      // The detail goes to the log only, under a reference the client can
      // quote.
      auto ref = next_ref.fetch_add(1);
      opts.log(fmt::format("internal error [ref={}] on {} {}: {}", ref,
                           req.method, req.path, e.what()));
      send_error(res, e.status(), e.kind(),
                 fmt::format("Internal server error [ref={}]", ref));
      return;
    }
    send_error(res, e.status(), e.kind(), e.what());
  }

  /// The target, auth, the route and the method, before any body is read:
  /// a response refuses the request, nullopt lets its body be read.
  std::optional<response> on_head(request& req) {
    // The console's files need no token (console.hpp); the API does.
    if (opts.console)
      if (auto page = console_response(req))
        return page;
    auto refused = refuse_head(req);
    if (refused && requests)
      count(routed(req) ? routes[req.route].name : "unmatched",
            refused->status);
    return refused;
  }

  /// Whether route_of() matched `req` (its route and method).
  bool routed(const request& req) const {
    const auto method = req.method == "HEAD" ? std::string{"GET"} : req.method;
    return req.route < routes.size() && routes[req.route].method == method
           && std::regex_match(req.path, routes[req.route].pattern);
  }

  std::optional<response> refuse_head(request& req) {
    response res;
    try {
      if (!opts.token.empty()
          && !(opts.public_probes && is_probe_target(req.target))) {
        auto token = bearer_token(req.header("Authorization").value_or(""));
        if (!token || !constant_time_equal(*token, opts.token)) {
          res.set_header("WWW-Authenticate", "Bearer");
          send_error(res, 401, kind_unauthorized,
                     token ? "The bearer token is wrong"
                           : "A bearer token is required (Authorization: "
                             "Bearer <token>)");
          return res;
        }
      }
      decode_target(req);
      if (auto refused = route_of(req))
        return refused;
      if (auto type = req.header("Content-Type"); type && !is_json(*type))
        throw api_error{415, kind_unsupported_media_type,
                        fmt::format("The body must be JSON (Content-Type: "
                                    "application/json), not {}",
                                    *type)};
      return std::nullopt;
    } catch (const api_error& e) {
      answer(req, res, e);
      return res;
    }
  }

  /// Finds the route of `req` (its index and captures); 405 when the path
  /// has routes for other methods only; throws 404 when it has none.
  std::optional<response> route_of(request& req) const {
    const auto method = req.method == "HEAD" ? std::string{"GET"} : req.method;
    std::vector<std::string> allowed;
    for (std::size_t i = 0; i < routes.size(); ++i) {
      std::smatch m;
      if (!std::regex_match(req.path, m, routes[i].pattern))
        continue;
      if (routes[i].method != method) {
        allowed.push_back(routes[i].method);
        continue;
      }
      req.route = i;
      req.captures.assign(std::next(m.begin()), m.end());
      return std::nullopt;
    }
    if (allowed.empty())
      throw api_error::not_found(fmt::format("No route for {}", req.path));
    response res;
    res.set_header("Allow", fmt::format("{}", fmt::join(allowed, ", ")));
    send_error(res, 405, kind_method_not_allowed,
               fmt::format("Method {} is not allowed on {}", req.method,
                           req.path));
    return res;
  }

  /// Runs a direct store call (listings, counts, trees): whatever it
  /// throws is the node's failure, never the client's.
  template <class F>
  static auto from_store(F&& fn) -> decltype(fn()) {
    try {
      return fn();
    } catch (const std::exception& e) {
      throw api_error{500, kind_internal,
                      fmt::format("Storage error: {}", e.what())};
    }
  }

  nlohmann::json body_object(const request& req) const {
    return parse_object(req.body, opts.max_json_depth);
  }

  /// The enqueue options a request gives as headers, each at most once.
  static enqueue_headers enqueue_headers_of(const request& req) {
    auto once = [&req](const char* name) -> std::optional<std::string> {
      if (req.header_count(name) > 1)
        throw api_error::bad_request(
          fmt::format("The {} header is given more than once", name));
      if (auto value = req.header(name))
        return std::string{*value};
      return std::nullopt;
    };
    return {once("Idempotency-Key"), once("traceparent")};
  }

  // -- routes -----------------------------------------------------------------

  void enqueue(const request& req, response& res) {
    check_params(req.params, {});
    const auto task_id = req.captures.at(0);
    auto body = parse_enqueue(body_object(req), enqueue_headers_of(req));
    auto ids = exec.enqueue_raw(task_id, {std::move(body.input)}, body.options);
    const auto& id = ids.at(0);
    res.set_header("Location", "/v1/executions/" + id);
    send_json(res, 202, {{"execution_id", id}, {"task_id", task_id}});
  }

  void enqueue_batch(const request& req, response& res) {
    check_params(req.params, {});
    const auto task_id = req.captures.at(0);
    auto body = parse_enqueue_batch(body_object(req), enqueue_headers_of(req),
                                    opts.max_batch_inputs);
    auto ids = exec.enqueue_raw(task_id, std::move(body.inputs), body.options);
    send_json(res, 202, {{"task_id", task_id}, {"execution_ids", ids}});
  }

  void get(const request& req, response& res) {
    check_params(req.params, {});
    auto r = exec.get(req.captures.at(0));
    send_json(res, 200, from_store([&] {
                return execution_with_children_json(*exec.storage(), r);
              }));
  }

  void wait(const request& req, response& res) {
    check_params(req.params, {"timeout_ms"});
    const auto id = req.captures.at(0);
    auto requested = int_param(req.params, "timeout_ms");
    auto timeout = requested ? std::min(millis{*requested}, opts.max_wait)
                             : opts.max_wait;
    // Counted before the check, so that two racing waiters cannot both
    // take the last place.
    if (waits.fetch_add(1) >= opts.max_concurrent_waits) {
      waits.fetch_sub(1);
      res.set_header("Retry-After", "1");
      throw api_error{503, kind_unavailable,
                      fmt::format("Too many waiting requests (at most {}); "
                                  "retry later",
                                  opts.max_concurrent_waits)};
    }
    struct release {
      std::atomic<std::size_t>& n;
      ~release() {
        n.fetch_sub(1);
      }
    } guard{waits};
    const auto deadline = steady::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<millis>(deadline - steady::now());
      auto slice = std::clamp(left, millis{0}, opts.wait_slice);
      if (auto r = exec.wait(id, slice)) {
        send_json(res, 200, execution_json(*r));
        return;
      }
      if (steady::now() >= deadline || stopping.load())
        break;
    }
    // Not finished by the deadline: the execution as it is now.
    send_json(res, 202, execution_json(exec.get(id)));
  }

  void cancel(const request& req, response& res) {
    check_params(req.params, {});
    body_object(req); // any body must at least be an object
    send_json(res, 200, execution_json(exec.cancel(req.captures.at(0))));
  }

  /// The query of a bulk cancel or retry: the listing's filter, `error`
  /// (text the error message contains), `limit` and `dry_run`.
  bulk_request bulk_query(const request& req) const {
    check_params(req.params, {"limit", "dry_run"}, filter_params);
    body_object(req); // any body must at least be an object
    bulk_request b;
    b.filter = parse_filter(req.params);
    if (auto limit = int_param(req.params, "limit"))
      b.limit = static_cast<std::size_t>(*limit);
    if (auto it = req.params.find("dry_run"); it != req.params.end()) {
      if (it->second != "true" && it->second != "false")
        throw api_error::bad_request(
          "Query parameter dry_run must be true or false");
      b.dry_run = it->second == "true";
    }
    return b;
  }

  static nlohmann::json bulk_json(const bulk_result& r, bool dry_run) {
    return {{"dry_run", dry_run},
            {"matched", r.matched},
            {"acted", r.acted},
            {"skipped", r.skipped},
            {"execution_ids", r.execution_ids},
            {"more", r.more}};
  }

  // A store failure in a bulk call is the node's (500, logged); a filter
  // the action cannot take is the client's (400, bulk.hpp).
  void bulk(const request& req, response& res,
            bulk_result (*action)(durable::executor&, bulk_request)) {
    auto b = bulk_query(req);
    const bool dry = b.dry_run;
    send_json(res, 200, bulk_json(action(exec, std::move(b)), dry));
  }

  void cancel_many(const request& req, response& res) {
    bulk(req, res, bulk_cancel);
  }

  void retry_many(const request& req, response& res) {
    bulk(req, res, bulk_retry);
  }

  void wake(const request& req, response& res) {
    check_params(req.params, {});
    auto w = parse_wake(body_object(req));
    auto r = exec.wake_raw(req.captures.at(0), w.sleeping_id,
                           std::move(w.output), w.error_message);
    send_json(res, 200, execution_json(r));
  }

  /// Bounds a filter by root with the root's creation time (no descendant
  /// is older than its root), so that a listing reads only the rows
  /// created since. False when the root does not exist (nothing matches).
  bool bound_by_root(execution_filter& f) {
    if (!f.root_id)
      return true;
    auto root = from_store([&] { return exec.storage()->get(*f.root_id); });
    if (!root)
      return false;
    if (!f.created_from || *f.created_from < root->created_at)
      f.created_from = root->created_at;
    return true;
  }

  void list(const request& req, response& res) {
    auto query = parse_list(req.params);
    durable::validate(query); // a bad limit or cursor is the client's fault
    list_page page;
    if (bound_by_root(query.filter))
      page = from_store([&] { return exec.storage()->list(query); });
    auto rows = nlohmann::json::array();
    for (const auto& r : page.rows)
      rows.push_back(summary_json(r));
    nlohmann::json out{{"executions", std::move(rows)}};
    out["next_cursor"] = page.next_cursor.empty()
                           ? nlohmann::json(nullptr)
                           : nlohmann::json(page.next_cursor);
    send_json(res, 200, out);
  }

  void tree(const request& req, response& res) {
    check_params(req.params, {"max_depth", "max_nodes"});
    tree_limits limits;
    if (auto d = int_param(req.params, "max_depth"))
      limits.max_depth = static_cast<std::size_t>(*d);
    if (auto n = int_param(req.params, "max_nodes"))
      limits.max_nodes = static_cast<std::size_t>(*n);
    auto root = exec.get(req.captures.at(0));
    send_json(res, 200, from_store([&] {
                return tree_json(*exec.storage(), root, limits);
              }));
  }

  void stats(const request& req, response& res) {
    check_params(req.params, {}, filter_params);
    auto filter = parse_filter(req.params);
    status_counts counts;
    if (bound_by_root(filter))
      counts = from_store(
        [&] { return exec.storage()->count_by_status(filter); });
    send_json(res, 200, counts_json(counts));
  }

  void series(const request& req, response& res) {
    check_params(req.params, {"from_us", "to_us", "step_s"});
    using std::chrono::minutes;
    const auto now = exec.storage()->now();
    series_range range;
    if (auto step = int_param(req.params, "step_s")) {
      if (*step < 60 || *step % 60 != 0 || *step > 86'400)
        throw api_error::bad_request("Query parameter step_s must be a "
                                     "multiple of 60 from 60 to 86400");
      range.step = minutes{*step / 60};
    }
    auto time_param = [&req](const char* name) {
      auto x = int_param(req.params, name);
      if (x && *x > series_range::max_time_us)
        throw api_error::bad_request(
          fmt::format("Query parameter {} must be at most {} (the year 9999)",
                      name, series_range::max_time_us));
      return x;
    };
    auto to = time_param("to_us");
    range.to = to ? from_micros(*to) : now;
    // Whole steps, the last one holding `to`.
    range.to = minute_of(range.to) + minutes{1};
    auto from = time_param("from_us");
    range.from = from ? minute_of(from_micros(*from))
                      : range.to - range.step * 60;
    if (range.from >= range.to)
      throw api_error::bad_request("Query parameter from_us must be before "
                                   "to_us");
    auto steps = (range.to - range.from + range.step - minutes{1}) / range.step;
    if (steps > static_cast<std::int64_t>(series_range::max_points))
      throw api_error::bad_request(
        fmt::format("A series has at most {} points: widen step_s or "
                    "narrow the range",
                    series_range::max_points));
    range.from = range.to - range.step * steps;
    auto counts = from_store(
      [&] { return exec.storage()->finished_by_minute(range.from, range.to); });
    send_json(res, 200, series_json(counts, range));
  }

  void nodes(const request& req, response& res) {
    check_params(req.params, {});
    auto all = from_store([&] { return exec.storage()->nodes(); });
    send_json(res, 200,
              nodes_json(all, exec.storage()->now(), exec.incarnation()));
  }

  void tasks(const request& req, response& res) {
    check_params(req.params, {});
    auto backlog = from_store([&] { return exec.storage()->ready_backlog(); });
    send_json(res, 200,
              tasks_json(exec.task_ids(), backlog, exec.storage()->now()));
  }

  void metrics_text(const request& req, response& res) {
    check_params(req.params, {});
    res.status = 200;
    res.set_header("Content-Type", std::string{metrics::content_type});
    res.body = opts.metrics->render();
  }

  void health(const request& req, response& res) {
    check_params(req.params, {});
    send_json(res, 200, {{"status", "ok"}});
  }

  void ready(const request& req, response& res) {
    check_params(req.params, {});
    if (draining.load() || exec.is_shut_down()) {
      res.set_header("Retry-After", "1");
      send_error(res, 503, kind_unavailable, "draining");
      return;
    }
    if (auto failure = pinger.ping(exec.storage(), opts.ready_timeout)) {
      res.set_header("Retry-After", "1");
      send_error(res, 503, kind_unavailable, "store unreachable: " + *failure);
      return;
    }
    send_json(res, 200, {{"status", "ready"}});
  }
};

server::server(durable::executor& exec, server_options opts) {
  validate(opts);
  impl_ = std::make_unique<impl>(exec, std::move(opts));
}

server::~server() {
  stop();
}

void server::start() {
  auto& d = *impl_;
  if (d.net)
    throw durable::error::non_retryable("The HTTP server is started already");
  transport_options t{
    .bind_address = d.opts.bind_address,
    .port = d.opts.port,
    .handler_threads = d.opts.threads,
    .max_body_bytes = d.opts.max_body_bytes,
    .max_header_bytes = d.opts.max_header_bytes,
    .max_header_fields = d.opts.max_header_fields,
    .max_connections = d.opts.max_connections,
    .max_connections_per_address = d.opts.max_connections_per_address,
    .header_timeout = d.opts.header_timeout,
    .body_timeout = d.opts.body_timeout,
    .write_timeout = d.opts.write_timeout,
    .idle_timeout = d.opts.keep_alive_timeout,
  };
  auto net = std::make_unique<transport>(
    std::move(t), transport_handlers{
                    .on_head = [&d](request& req) { return d.on_head(req); },
                    .on_request = [&d](request& req) { return d.serve(req); },
                  });
  const auto port = net->start();
  d.stopping.store(false);
  d.net = std::move(net);
  d.bound_port.store(port);
  d.opts.log(
    fmt::format("listening on {}:{}{}", d.opts.bind_address, port,
                d.opts.token.empty() ? "" : " (bearer token required)"));
}

void server::stop() {
  auto& d = *impl_;
  if (!d.net)
    return;
  d.stopping.store(true);
  d.net->stop();
  d.net.reset();
  d.bound_port.store(0);
  d.opts.log("stopped");
}

void server::drain() noexcept {
  impl_->draining.store(true);
}

bool server::draining() const noexcept {
  return impl_->draining.load();
}

std::uint16_t server::port() const noexcept {
  return impl_->bound_port.load();
}

bool server::running() const noexcept {
  return impl_->bound_port.load() != 0;
}

const server_options& server::options() const noexcept {
  return impl_->opts;
}

} // namespace durable::nodes::http
