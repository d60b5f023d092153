#include "durable/client/client.hpp"

#include <future>
#include <set>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <fmt/format.h>

#include "durable/actors/caf_threads.hpp"
#include "durable/actors/executor_actor.hpp"
#include "durable/actors/wire_errors.hpp"

namespace durable {

namespace {

/// Scheduler threads of a client's actor system: it only relays calls.
constexpr std::size_t client_scheduler_threads = 2;

} // namespace

struct client::impl {
  client_options opts;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  actors::executor_actor node;

  std::string where() const {
    return fmt::format("[host={}] [port={}]", opts.host, opts.port);
  }

  error connection_lost(const std::string& reason) const {
    return error::internal(fmt::format("Connection to durable node lost {}: {}",
                                       where(), reason),
                           true);
  }

  /// The durable::error a failed call throws.
  error to_error(const caf::error& err) const {
    if (auto e = actors::from_caf_error(err))
      return std::move(*e);
    if (err == caf::sec::request_receiver_down
        || err == caf::sec::no_route_to_receiving_node
        || err == caf::sec::socket_disconnected
        || err == caf::exit_reason::remote_link_unreachable)
      return connection_lost(sys->render(err));
    return error::internal(fmt::format("Durable node call failed {}: {}",
                                       where(), sys->render(err)),
                           true);
  }

  void connect() {
    caf::scoped_actor self{*sys};
    auto expected_ifs = sys->message_types(
      caf::detail::type_list<actors::executor_actor>{});
    std::optional<error> failure;
    self
      ->request(sys->middleman().actor_handle(),
                caf::duration{opts.connect_timeout}, caf::connect_atom::value,
                opts.host, opts.port)
      .receive(
        [&](caf::node_id&, caf::strong_actor_ptr& ptr,
            std::set<std::string>& ifs) {
          if (!ptr)
            failure = error::non_retryable(
              fmt::format("Cannot connect to durable node {}: nothing is "
                          "published on "
                          "that port",
                          where()));
          else if (ifs != expected_ifs)
            failure = error::non_retryable(
              fmt::format("Cannot connect to durable node {}: the actor "
                          "published there "
                          "is not a durable executor of this version",
                          where()));
          else
            node = caf::actor_cast<actors::executor_actor>(std::move(ptr));
        },
        [&](caf::error& err) {
          failure = error::internal(
            fmt::format("Cannot connect to durable node {}: {}", where(),
                        sys->render(err)),
            true);
        });
    if (failure)
      throw *failure;
  }

  /// Sends one request to the node and blocks until its answer. A helper
  /// actor monitors the node for the duration of the call, so a node that
  /// dies (or is dropped for missing heartbeats) fails the call at once
  /// instead of leaving it waiting for an answer that cannot come.
  template <class T, class... Ts>
  T call(Ts... xs) {
    // The spawn below pins the system's logger to the calling thread.
    actors::thread_logger_release release;
    auto result = std::make_shared<std::promise<T>>();
    auto answer = result->get_future();
    sys->spawn([=, this, target = node](caf::event_based_actor* self) {
      self->monitor(target);
      self->set_down_handler([=, this](caf::down_msg& msg) {
        result->set_exception(
          std::make_exception_ptr(connection_lost(sys->render(msg.reason))));
        self->quit();
      });
      self->request(target, caf::infinite, xs...)
        .then(
          [=](T& x) {
            result->set_value(std::move(x));
            self->quit();
          },
          [=, this](caf::error& err) {
            result->set_exception(std::make_exception_ptr(to_error(err)));
            self->quit();
          });
    });
    return answer.get();
  }
};

client::client(client_options opts) : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  nodes::prepare_network_config(impl_->cfg, impl_->opts.network);
  impl_->cfg.set("scheduler.max-threads", client_scheduler_threads);
  impl_->sys = std::make_unique<caf::actor_system>(impl_->cfg);
  // Built here, the system and connect()'s scoped actor pin its logger to
  // this thread: a client destroyed on another thread would wait for this
  // one to end (actors::release_thread_logger()).
  actors::thread_logger_release release;
  impl_->connect();
}

client::~client() {
  // The node's proxy must go before the actor system that owns it.
  impl_->node = nullptr;
  impl_->sys.reset();
}

std::vector<std::string> client::enqueue_raw(const std::string& task_id,
                                             std::vector<std::string> inputs,
                                             const enqueue_options& opts) {
  return impl_->call<std::vector<std::string>>(
    actors::enqueue_atom::value, task_id, std::move(inputs), opts);
}

execution_record client::get(const std::string& execution_id) {
  return impl_->call<execution_record>(caf::get_atom::value, execution_id);
}

execution_record client::wait(const std::string& execution_id) {
  return impl_->call<execution_record>(actors::wait_atom::value, execution_id);
}

std::optional<execution_record>
client::wait_for(const std::string& execution_id, millis timeout) {
  return impl_
    ->call<actors::wait_reply>(actors::wait_atom::value, execution_id,
                               caf::timespan{timeout})
    .record;
}

execution_record client::cancel(const std::string& execution_id) {
  return impl_->call<execution_record>(actors::cancel_atom::value,
                                       execution_id);
}

execution_record client::wake_raw(const std::string& task_id,
                                  const std::string& sleeping_id,
                                  std::optional<std::string> output,
                                  const std::string& error_message) {
  return impl_->call<execution_record>(
    actors::wake_atom::value,
    actors::wake_request{task_id, sleeping_id, std::move(output),
                         error_message});
}

const client_options& client::options() const noexcept {
  return impl_->opts;
}

} // namespace durable
