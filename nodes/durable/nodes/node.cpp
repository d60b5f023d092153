#include "durable/nodes/node.hpp"

#include <algorithm>
#include <cstdio>
#include <pthread.h>
#include <signal.h>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <fmt/format.h>

#include "durable/actors/scheduler.hpp"
#include "durable/error.hpp"
#include "durable/metrics/backlog_metrics.hpp"
#include "durable/metrics/engine_metrics.hpp"
#include "durable/metrics/metrics_store.hpp"
#include "durable/metrics/registry.hpp"
#include "durable/nodes/gateway.hpp"
#include "durable/nodes/http/server.hpp"
#include "durable/nodes/network_config.hpp"
#include "durable/nodes/node_log.hpp"
#include "durable/nodes/node_reporter.hpp"
#include "durable/nodes/service_notify.hpp"
#include "durable/version.hpp"

namespace durable::nodes {

namespace {

/// Blocks SIGTERM and SIGINT in the calling thread and in every thread it
/// starts later (the actor system's, the store's), so that only sigwait()
/// in main sees them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

/// Waits for SIGTERM or SIGINT; returns which. With a systemd watchdog,
/// pings it meanwhile (service_notify.hpp says what that proves).
int wait_for_stop(const sigset_t& stop_signals) {
  const auto period = service::watchdog_period();
  for (;;) {
    if (!period) {
      int sig = 0;
      if (sigwait(&stop_signals, &sig) == 0)
        return sig;
      continue;
    }
    const auto us = period->count();
    timespec ts{static_cast<time_t>(us / 1'000'000),
                static_cast<long>(us % 1'000'000) * 1000};
    int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig > 0)
      return sig;
    // EAGAIN: the period passed; EINTR: another signal, also a sign of life.
    service::watchdog();
  }
}

int serve(const node_config& cfg, const node_program& program,
          const sigset_t& stop_signals) {
  node_log log{cfg.name, "-", cfg.log};
  service::status("opening the store " + describe_store(cfg));
  // Outlives everything that counts into it (the store, the executor's
  // observer, the HTTP server). Served as `GET /metrics`.
  auto registry = std::make_shared<metrics::registry>();
  metrics::engine_metrics engine_counts{*registry};
  std::shared_ptr<metrics::metrics_store> db;
  try {
    db = std::make_shared<metrics::metrics_store>(open_store(cfg), *registry);
  } catch (const std::exception& e) {
    log.error("store_unavailable", "cannot open the store: {}", e.what());
    service::status(fmt::format("cannot open the store: {}", e.what()));
    return 1;
  }
  caf::actor_system_config caf_cfg;
  // Middleman, wire types and heartbeats, for the gateway.
  prepare_network_config(caf_cfg);
  // As the executor's own system: one scheduler thread per core unless
  // told (CAF's default is at least 4, idle pollers on a small machine).
  caf_cfg.set(
    "scheduler.max-threads",
    cfg.executor.scheduler_threads > 0
      ? cfg.executor.scheduler_threads
      : std::size_t{std::max(1u, std::thread::hardware_concurrency())});
  actors::use_engine_scheduler(caf_cfg);
  caf::actor_system sys{caf_cfg};
  auto opts = cfg.executor;
  // `log` outlives `exec`, whose threads call this until it is destroyed.
  opts.observer = engine_counts.observer(
    [&log](const engine_event& e) { log.event(e); });
  executor exec{sys, db, std::move(opts)};
  registry->add_gauge_callback(
    "durable_executions_running", "Execution bodies running on this node",
    [&exec] { return static_cast<double>(exec.running_count()); });
  registry->add_gauge_callback(
    "durable_execution_slots_free",
    "Executions this node may still run at once (max_concurrent - running)",
    [&exec, max = exec.options().max_concurrent] {
      auto running = exec.running_count();
      return static_cast<double>(running < max ? max - running : 0);
    });
  // The cluster's backlog, measured by the maintenance leader alone.
  metrics::backlog_metrics backlog{*registry, db, [&engine_counts] {
                                     return engine_counts.leader();
                                   }};
  log.set_incarnation(exec.incarnation());
  if (program.register_tasks)
    program.register_tasks(exec, cfg);
  std::optional<gateway> gw;
  if (cfg.gateway_port) {
    try {
      gw.emplace(publish_gateway(exec, {cfg.gateway_bind, *cfg.gateway_port}));
    } catch (const std::exception& e) {
      log.error("gateway_failed", "cannot publish the gateway: {}", e.what());
      exec.shutdown();
      return 1;
    }
  }
  std::unique_ptr<http::server> api;
  if (cfg.http_port) {
    try {
      http::server_options o;
      o.bind_address = cfg.http_bind;
      o.port = *cfg.http_port;
      o.token = cfg.http_token;
      o.public_probes = cfg.http_public_probes;
      o.console = cfg.http_console;
      o.metrics = registry;
      o.log = [&log](std::string_view line) { log.info("http", "{}", line); };
      api = std::make_unique<http::server>(exec, std::move(o));
      api->start();
    } catch (const std::exception& e) {
      log.error("http_failed", "cannot start the HTTP API: {}", e.what());
      if (gw)
        gw->close();
      exec.shutdown();
      return 1;
    }
  }
  // The cluster's registry: every node shows every other one
  // (GET /v1/nodes, the console).
  node_reporter reporter{
    db,
    {.describe =
       [&, started = db->now()] {
         node_info n;
         n.incarnation = exec.incarnation();
         n.name = cfg.name;
         n.version = std::string{durable::version()};
         n.started_at = started;
         // The executor's actor answers until shutdown() begins (the last
         // report, `stopped`, comes after it, and a report may race with
         // its start): a stopped executor runs nothing.
         try {
           n.running = exec.is_shut_down()
                         ? 0
                         : static_cast<std::uint32_t>(exec.running_count());
         } catch (const std::exception&) {
           n.running = 0;
         }
         n.slots = static_cast<std::uint32_t>(exec.options().max_concurrent);
         n.leader = engine_counts.leader();
         return n;
       },
     .finished_total = [&db] { return db->finished_by_status(); }},
    [&log](std::string_view why) {
      log.warning("registry_failed", "{}", why);
    }};
  log.info("started",
           "store=\"{}\" max_concurrent={} lease_ms={} gateway={} "
           "http={}",
           describe_store(cfg), cfg.executor.max_concurrent,
           cfg.executor.lease_duration.count(),
           gw ? fmt::format("{}:{}", gw->address(), gw->port()) : "off",
           api ? fmt::format("{}:{}", cfg.http_bind, api->port()) : "off");
  std::fprintf(stdout,
               "ready name=%s incarnation=%s gateway_port=%d http_port=%d\n",
               cfg.name.c_str(), exec.incarnation().c_str(),
               gw ? static_cast<int>(gw->port()) : -1,
               api ? static_cast<int>(api->port()) : -1);
  std::fflush(stdout);
  // After the line above: the store is open, the executor claims, the API
  // listens (start() returns once it accepts connections).
  service::ready(fmt::format(
    "serving: store {}, http {}, max_concurrent {}", describe_store(cfg),
    api ? fmt::format("{}:{}", cfg.http_bind, api->port()) : "off",
    cfg.executor.max_concurrent));
  const int sig = wait_for_stop(stop_signals);
  const auto running = exec.running_count();
  // First, so that the manager counts its stop timeout from the drain's
  // start and shows why the node is still there.
  service::stopping(fmt::format("draining: {} bodies running, grace {} ms",
                                running, cfg.executor.shutdown_grace.count()));
  log.info("draining", "signal={} running={} grace_ms={}",
           sig == SIGTERM ? "SIGTERM" : "SIGINT", running,
           cfg.executor.shutdown_grace.count());
  // While running bodies finish, the API answers 503 with Retry-After (and
  // readiness "draining"), so that load balancers and clients move to
  // other nodes; once the executor is down, the API closes and clients get
  // a refused connection rather than a half-shut node.
  if (api)
    api->drain();
  reporter.set_state(node_state::draining);
  if (gw)
    gw->close();
  exec.shutdown();
  reporter.stop();
  if (api)
    api->stop();
  log.info("stopped", "");
  return 0;
}

} // namespace

int run_node(int argc, char** argv, const node_program& program) {
  node_config cfg;
  CLI::App app{program.description, program.name};
  add_node_options(app, cfg);
  app.add_flag_callback(
    "--version",
    [&program] {
      fmt::print("{} {}\n", program.name, durable::version());
      throw CLI::Success{};
    },
    "Print the version and exit");
  bool check_only = false;
  app.add_flag("--check-config", check_only,
               "Read and validate the settings (flags, environment, "
               "--config file), print a summary and exit: 0 if valid, 2 "
               "if not. Opens nothing");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    finish_config(cfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program.name.c_str(), e.what());
    return 2;
  }
  if (check_only) {
    auto port = [](const std::optional<std::uint16_t>& p,
                   const std::string& bind) {
      return p ? fmt::format("{}:{}", bind, *p) : std::string{"off"};
    };
    fmt::print("configuration valid: name={} store=\"{}\" http={} "
               "gateway={} max_concurrent={} lease_ms={} grace_ms={} "
               "log={}/{} retain={}\n",
               cfg.name, describe_store(cfg),
               port(cfg.http_port, cfg.http_bind),
               port(cfg.gateway_port, cfg.gateway_bind),
               cfg.executor.max_concurrent, cfg.executor.lease_duration.count(),
               cfg.executor.shutdown_grace.count(), to_string(cfg.log.level),
               to_string(cfg.log.format),
               describe_retention(cfg.executor.retention));
    return 0;
  }
  const auto stop_signals = block_stop_signals();
  try {
    return serve(cfg, program, stop_signals);
  } catch (const std::exception& e) {
    node_log{cfg.name, "-", cfg.log}.error("failed", "node failed: {}",
                                           e.what());
    return 1;
  }
}

} // namespace durable::nodes
