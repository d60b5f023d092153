#include "durable/nodes/http/server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <regex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "durable/actors/executor.hpp"
#include "durable/nodes/http/api_error.hpp"
#include "durable/nodes/http/auth.hpp"
#include "durable/nodes/http/requests.hpp"
#include "durable/nodes/http/views.hpp"

namespace durable::nodes::http {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::size_t min_threads = 2;
constexpr std::size_t max_threads = 1024;
constexpr millis max_wait_cap{10 * 60 * 1000};
constexpr millis min_wait_slice{10};
constexpr auto start_timeout = 10s;
constexpr auto io_timeout = 10s;
constexpr const char* json_type = "application/json";

/// A route: its pattern and the methods it serves (HEAD goes with GET).
struct route {
  std::regex pattern;
  std::vector<std::string> methods;
};

const std::vector<route>& routes() {
  static const std::vector<route> all{
    {std::regex{"/v1/health"}, {"GET"}},
    {std::regex{"/v1/stats"}, {"GET"}},
    {std::regex{"/v1/tasks/[^/]+/executions"}, {"POST"}},
    {std::regex{"/v1/tasks/[^/]+/wake"}, {"POST"}},
    {std::regex{"/v1/executions"}, {"GET"}},
    {std::regex{"/v1/executions/[^/]+"}, {"GET"}},
    {std::regex{"/v1/executions/[^/]+/wait"}, {"GET"}},
    {std::regex{"/v1/executions/[^/]+/tree"}, {"GET"}},
    {std::regex{"/v1/executions/[^/]+/cancel"}, {"POST"}},
  };
  return all;
}

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false,
                         nlohmann::json::error_handler_t::replace),
                  json_type);
}

void send_error(httplib::Response& res, int status, std::string_view kind,
                std::string_view message) {
  res.status = status;
  res.set_content(error_body(kind, message), json_type);
}

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
}

struct server::impl {
  durable::executor& exec;
  server_options opts;
  httplib::Server svr;
  std::thread thread;
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> waits{0};
  std::atomic<std::uint64_t> next_ref{1};

  impl(durable::executor& e, server_options o)
    : exec(e), opts(std::move(o)) {
    if (!opts.log)
      opts.log = [](std::string_view line) {
        fmt::print(stderr, "durable http: {}\n", line);
      };
  }

  // -- plumbing ---------------------------------------------------------------

  /// Runs a handler body; turns whatever it throws into an error response.
  template <class F>
  httplib::Server::Handler wrap(F fn) {
    return [this, fn](const httplib::Request& req, httplib::Response& res) {
      try {
        if (exec.is_shut_down())
          throw api_error{503, kind_unavailable,
                          "The node is shutting down"};
        fn(req, res);
      } catch (const api_error& e) {
        answer(req, res, e);
      } catch (const durable::error& e) {
        answer(req, res, to_api_error(e));
      } catch (const std::exception& e) {
        answer(req, res, api_error{500, kind_internal, e.what()});
      } catch (...) {
        answer(req, res, api_error{500, kind_internal, "unknown exception"});
      }
    };
  }

  void answer(const httplib::Request& req, httplib::Response& res,
              const api_error& e) {
    if (e.status() == 503 && exec.is_shut_down()) {
      res.set_header("Retry-After", "1");
    }
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

  /// Auth, unknown routes and wrong methods, before any body is read.
  httplib::Server::HandlerResponse pre_route(const httplib::Request& req,
                                             httplib::Response& res) {
    if (!opts.token.empty()) {
      const auto header = req.get_header_value("Authorization");
      auto token = bearer_token(header);
      if (!token || !constant_time_equal(*token, opts.token)) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, 401, kind_unauthorized,
                   token ? "The bearer token is wrong"
                         : "A bearer token is required (Authorization: "
                           "Bearer <token>)");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    const auto method = req.method == "HEAD" ? std::string{"GET"}
                                             : req.method;
    for (const auto& r : routes()) {
      if (!std::regex_match(req.path, r.pattern))
        continue;
      if (std::find(r.methods.begin(), r.methods.end(), method)
          != r.methods.end())
        return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("Allow", fmt::format("{}", fmt::join(r.methods, ", ")));
      send_error(res, 405, kind_method_not_allowed,
                 fmt::format("Method {} is not allowed on {}", req.method,
                             req.path));
      return httplib::Server::HandlerResponse::Handled;
    }
    send_error(res, 404, kind_not_found,
               fmt::format("No route for {}", req.path));
    return httplib::Server::HandlerResponse::Handled;
  }

  /// Errors httplib raises itself (oversize bodies, bad requests) get the
  /// same JSON body as ours.
  httplib::Server::HandlerResponse on_error(const httplib::Request&,
                                            httplib::Response& res) {
    if (!res.body.empty())
      return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 413:
        send_error(res, 413, kind_payload_too_large,
                   fmt::format("The request body exceeds {} bytes",
                               opts.max_body_bytes));
        break;
      case 404:
        send_error(res, 404, kind_not_found, "Not found");
        break;
      default:
        if (res.status >= 500)
          send_error(res, res.status, kind_internal, "Internal server error");
        else
          send_error(res, res.status, kind_bad_request,
                     fmt::format("Bad request (HTTP {})", res.status));
    }
    return httplib::Server::HandlerResponse::Handled;
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

  // -- routes -----------------------------------------------------------------

  void enqueue(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {});
    const auto task_id = req.matches[1].str();
    std::optional<std::string> key_header;
    if (req.has_header("Idempotency-Key"))
      key_header = req.get_header_value("Idempotency-Key");
    auto body = parse_enqueue(parse_object(req.body), std::move(key_header));
    auto ids = exec.enqueue_raw(task_id, {std::move(body.input)},
                                body.options);
    const auto& id = ids.at(0);
    res.set_header("Location", "/v1/executions/" + id);
    send_json(res, 202, {{"execution_id", id}, {"task_id", task_id}});
  }

  void get(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {});
    auto r = exec.get(req.matches[1].str());
    send_json(res, 200, from_store([&] {
                return execution_with_children_json(*exec.storage(), r);
              }));
  }

  void wait(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {"timeout_ms"});
    const auto id = req.matches[1].str();
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
      auto left = std::chrono::duration_cast<millis>(deadline
                                                     - steady::now());
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

  void cancel(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {});
    parse_object(req.body); // any body must at least be an object
    send_json(res, 200, execution_json(exec.cancel(req.matches[1].str())));
  }

  void wake(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {});
    auto w = parse_wake(parse_object(req.body));
    auto r = exec.wake_raw(req.matches[1].str(), w.sleeping_id,
                           std::move(w.output), w.error_message);
    send_json(res, 200, execution_json(r));
  }

  void list(const httplib::Request& req, httplib::Response& res) {
    auto query = parse_list(req.params);
    durable::validate(query); // a bad limit or cursor is the client's fault
    auto page = from_store([&] { return exec.storage()->list(query); });
    auto rows = nlohmann::json::array();
    for (const auto& r : page.rows)
      rows.push_back(summary_json(r));
    nlohmann::json out{{"executions", std::move(rows)}};
    out["next_cursor"] = page.next_cursor.empty()
                           ? nlohmann::json(nullptr)
                           : nlohmann::json(page.next_cursor);
    send_json(res, 200, out);
  }

  void tree(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {"max_depth", "max_nodes"});
    tree_limits limits;
    if (auto d = int_param(req.params, "max_depth"))
      limits.max_depth = static_cast<std::size_t>(*d);
    if (auto n = int_param(req.params, "max_nodes"))
      limits.max_nodes = static_cast<std::size_t>(*n);
    auto root = exec.get(req.matches[1].str());
    send_json(res, 200, from_store([&] {
                return tree_json(*exec.storage(), root, limits);
              }));
  }

  void stats(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {"status", "task_id", "parent_id",
                              "created_from_us", "created_before_us"});
    auto filter = parse_filter(req.params);
    auto counts = from_store(
      [&] { return exec.storage()->count_by_status(filter); });
    send_json(res, 200, counts_json(counts));
  }

  void health(const httplib::Request& req, httplib::Response& res) {
    check_params(req.params, {});
    send_json(res, 200, {{"status", "ok"}});
  }

  // -- set-up -----------------------------------------------------------------

  void install() {
    const auto threads = opts.threads;
    svr.new_task_queue = [threads] {
      return new httplib::ThreadPool(threads);
    };
    svr.set_payload_max_length(opts.max_body_bytes);
    svr.set_read_timeout(io_timeout);
    svr.set_write_timeout(io_timeout);
    svr.set_keep_alive_timeout(std::max<time_t>(
      1, static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(
                               opts.keep_alive_timeout)
                               .count())));
    svr.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        return pre_route(req, res);
      });
    svr.set_error_handler(httplib::Server::HandlerWithResponse{
      [this](const httplib::Request& req, httplib::Response& res) {
        return on_error(req, res);
      }});
    svr.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res,
             std::exception_ptr) {
        answer(req, res, api_error{500, kind_internal, "handler failed"});
      });
    auto bind = [this](auto member) {
      return wrap([this, member](const auto& req, auto& res) {
        (this->*member)(req, res);
      });
    };
    svr.Get("/v1/health", bind(&impl::health));
    svr.Get("/v1/stats", bind(&impl::stats));
    svr.Post("/v1/tasks/([^/]+)/executions", bind(&impl::enqueue));
    svr.Post("/v1/tasks/([^/]+)/wake", bind(&impl::wake));
    svr.Get("/v1/executions", bind(&impl::list));
    svr.Get("/v1/executions/([^/]+)", bind(&impl::get));
    svr.Get("/v1/executions/([^/]+)/wait", bind(&impl::wait));
    svr.Get("/v1/executions/([^/]+)/tree", bind(&impl::tree));
    svr.Post("/v1/executions/([^/]+)/cancel", bind(&impl::cancel));
  }
};

server::server(durable::executor& exec, server_options opts) {
  validate(opts);
  impl_ = std::make_unique<impl>(exec, std::move(opts));
  impl_->install();
}

server::~server() {
  stop();
}

void server::start() {
  auto& d = *impl_;
  if (d.thread.joinable())
    throw durable::error::non_retryable("The HTTP server is started already");
  int port = d.opts.port == 0
               ? d.svr.bind_to_any_port(d.opts.bind_address)
               : (d.svr.bind_to_port(d.opts.bind_address, d.opts.port)
                    ? d.opts.port
                    : -1);
  if (port <= 0)
    throw durable::error::non_retryable(
      fmt::format("Cannot listen on {}:{}", d.opts.bind_address, d.opts.port));
  d.bound_port.store(static_cast<std::uint16_t>(port));
  d.stopping.store(false);
  d.thread = std::thread{[&d] { d.svr.listen_after_bind(); }};
  // stop() is a no-op until the server runs: wait for it.
  const auto deadline = steady::now() + start_timeout;
  while (!d.svr.is_running() && steady::now() < deadline)
    std::this_thread::sleep_for(1ms);
  d.opts.log(fmt::format("listening on {}:{}{}", d.opts.bind_address, port,
                         d.opts.token.empty() ? "" : " (bearer token required)"));
}

void server::stop() {
  auto& d = *impl_;
  if (!d.thread.joinable())
    return;
  d.stopping.store(true);
  d.svr.stop();
  d.thread.join();
  d.bound_port.store(0);
  d.opts.log("stopped");
}

std::uint16_t server::port() const noexcept {
  return impl_->bound_port.load();
}

bool server::running() const noexcept {
  return impl_->svr.is_running();
}

const server_options& server::options() const noexcept {
  return impl_->opts;
}

} // namespace durable::nodes::http
