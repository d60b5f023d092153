#include "durable/actors/executor_actor.hpp"

#include <algorithm>
#include <chrono>
#include <exception>

#include <caf/all.hpp>

#include "durable/actors/messages.hpp"
#include "durable/actors/requests.hpp"
#include "durable/actors/runtime.hpp"
#include "durable/actors/waiter_registry.hpp"
#include "durable/actors/wire_errors.hpp"

namespace durable::actors {

namespace {

/// Whatever was thrown, as the caf::error the caller rebuilds it from.
caf::error current_error() {
  return to_caf_error(error{to_execution_error(std::current_exception())});
}

/// Delivers `make()`, or the error it throws.
template <class T, class F>
void settle(caf::typed_response_promise<T>& rp, F&& make) {
  try {
    rp.deliver(make());
  } catch (...) {
    rp.deliver(current_error());
  }
}

/// A finite caf::duration as a timespan.
caf::timespan to_timespan(caf::duration d) {
  std::chrono::steady_clock::time_point t{};
  t += d; // caf::duration adds to a time point (and nothing else)
  return std::chrono::duration_cast<caf::timespan>(t.time_since_epoch());
}

/// The waits this actor has in progress: answered with
/// shut_down_while_waiting() when it stops, so that no caller (a CAF
/// program, a remote client through the gateway) is left without an answer.
using waits_ptr = std::shared_ptr<waiter_registry>;

/// Waits for `id` to finish, then delivers `finish(record)`; on timeout
/// delivers `finish(nullopt)`. The same steps as executor::wait(): not-found
/// first, a finished execution at once, then the dispatcher's watch, which
/// answers when the store announces the end (or its re-check finds it).
/// A positive timeout bounds the whole wait, the first read included, so
/// that it gives up on time while the storage actor's commits hang (this
/// actor cannot read the store itself, as the facade does, without
/// blocking a scheduler thread); a zero timeout still reads once, however
/// long that takes.
template <class T, class Finish>
void await_end(executor_actor::pointer self, const runtime_ptr& rt,
               const waits_ptr& waits, const std::string& id,
               caf::duration timeout, caf::typed_response_promise<T> rp,
               Finish finish) {
  const auto seq = waits->add(id, [rp, id](wait_end end) mutable {
    if (end.what == wait_end::kind::shut_down)
      rp.deliver(to_caf_error(shut_down_while_waiting(id)));
  });
  // Every answer below first takes the wait out of `waits`: whoever takes
  // it (this reply or the shutdown) answers, exactly once.
  auto fail = [=](caf::error& err) mutable {
    if (waits->remove(id, seq))
      rp.deliver(to_caf_error(engine_failure(self->system(), err)));
  };
  const bool bounded = timeout.valid() && timeout.count > 0;
  const auto deadline = bounded ? std::chrono::steady_clock::now()
                                    + to_timespan(timeout)
                                : std::chrono::steady_clock::time_point{};
  self
    ->request(rt->storage, bounded ? timeout : caf::infinite, fetch_atom::value,
              id)
    .then(
      [=](maybe_record& r) mutable {
        if (!r.record) {
          if (waits->remove(id, seq))
            rp.deliver(to_caf_error(execution_not_found(id)));
          return;
        }
        if (r.record->is_finished()) {
          if (waits->remove(id, seq))
            settle(rp, [&] { return finish(std::move(r.record)); });
          return;
        }
        // A timed wait tells the dispatcher its deadline, so that a
        // wait that gives up leaves nothing behind.
        // What the read left of the wait's time.
        auto left = timeout;
        if (bounded)
          left = caf::duration{
            std::max(std::chrono::duration_cast<caf::timespan>(
                       deadline - std::chrono::steady_clock::now()),
                     caf::timespan{0})};
        auto msg = left.valid() ? caf::make_message(watch_atom::value, id,
                                                    to_timespan(left))
                                : caf::make_message(watch_atom::value, id);
        self->request(rt->dispatcher, left, std::move(msg))
          .then(
            [=](maybe_record& w) mutable {
              if (!waits->remove(id, seq))
                return;
              settle(rp, [&] {
                return finish(found_record(std::move(w.record), id));
              });
            },
            [=](caf::error& err) mutable {
              if (!waits->remove(id, seq))
                return;
              if (err == caf::sec::request_timeout)
                settle(rp, [&] { return finish(std::nullopt); });
              else if (auto e = from_caf_error(err))
                rp.deliver(to_caf_error(*e)); // not found, shut down
              else
                rp.deliver(to_caf_error(engine_failure(self->system(), err)));
            });
      },
      [=](caf::error& err) mutable {
        // The first read did not come back within the wait's time.
        if (err == caf::sec::request_timeout) {
          if (waits->remove(id, seq))
            settle(rp, [&] { return finish(std::nullopt); });
          return;
        }
        fail(err);
      });
}

/// Answers with the row a storage request returns (not-found if none).
template <class... Ts>
caf::result<execution_record> fetch_row(executor_actor::pointer self,
                                        const runtime_ptr& rt,
                                        const std::string& id, Ts... request) {
  auto rp = self->make_response_promise<execution_record>();
  self->request(rt->storage, caf::infinite, request..., id)
    .then(
      [=](maybe_record& r) mutable {
        settle(rp, [&] { return found_record(std::move(r.record), id); });
      },
      [=](caf::error& err) mutable {
        rp.deliver(to_caf_error(engine_failure(self->system(), err)));
      });
  return rp;
}

executor_actor::behavior_type executor_behavior(executor_actor::pointer self,
                                                runtime_ptr rt) {
  auto waits = std::make_shared<waiter_registry>();
  self->set_exit_handler([=](caf::exit_msg& msg) {
    waits->shut_down();
    self->quit(msg.reason);
  });
  return {
    [=](enqueue_atom, const std::string& task_id,
        std::vector<std::string>& inputs,
        const enqueue_options& opts) -> caf::result<std::vector<std::string>> {
      std::vector<execution_record> rows;
      try {
        rows = make_enqueue_rows(*rt, task_id, std::move(inputs), opts);
      } catch (...) {
        return current_error();
      }
      auto names = names_of(rows);
      auto rp = self->make_response_promise<std::vector<std::string>>();
      self
        ->request(rt->new_rows_sink(), caf::infinite, insert_atom::value,
                  std::move(rows))
        .then(
          [=](insert_reply& reply) mutable {
            settle(rp, [&] { return enqueued_ids(names, reply); });
          },
          [=](caf::error& err) mutable {
            rp.deliver(to_caf_error(engine_failure(self->system(), err)));
          });
      return rp;
    },
    [=](caf::get_atom, const std::string& id) -> caf::result<execution_record> {
      return fetch_row(self, rt, id, fetch_atom::value);
    },
    [=](wait_atom, const std::string& id) -> caf::result<execution_record> {
      auto rp = self->make_response_promise<execution_record>();
      await_end(self, rt, waits, id, caf::infinite, rp,
                [](std::optional<execution_record> r) {
                  return std::move(*r);
                });
      return rp;
    },
    [=](wait_atom, const std::string& id,
        caf::timespan timeout) -> caf::result<wait_reply> {
      auto rp = self->make_response_promise<wait_reply>();
      await_end(self, rt, waits, id,
                caf::duration{std::max(timeout, caf::timespan{0})}, rp,
                [](std::optional<execution_record> r) {
                  return wait_reply{std::move(r)};
                });
      return rp;
    },
    [=](cancel_atom, const std::string& id) -> caf::result<execution_record> {
      return fetch_row(self, rt, id, cancel_atom::value);
    },
    [=](wake_atom, wake_request& req) -> caf::result<execution_record> {
      wake_request checked;
      try {
        checked = make_wake_request(*rt, std::move(req.task_id),
                                    req.sleeping_id, std::move(req.output),
                                    std::move(req.error_message));
      } catch (...) {
        return current_error();
      }
      auto rp = self->make_response_promise<execution_record>();
      auto sleeping_id = checked.sleeping_id;
      self
        ->request(rt->storage, caf::infinite, wake_atom::value,
                  std::move(checked))
        .then(
          [=](wake_reply& reply) mutable {
            settle(rp,
                   [&] { return woken_record(std::move(reply), sleeping_id); });
          },
          [=](caf::error& err) mutable {
            rp.deliver(to_caf_error(engine_failure(self->system(), err)));
          });
      return rp;
    },
  };
}

} // namespace

executor_actor spawn_executor_actor(caf::actor_system& sys, runtime_ptr rt) {
  return sys.spawn(executor_behavior, std::move(rt));
}

} // namespace durable::actors
