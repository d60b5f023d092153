#pragma once

#include <caf/all.hpp>

#include "durable/actors/executor.hpp"

namespace durable {

/// Defines actor_task(): the body sends the input to `worker` as a request
/// `(In)` and expects a reply `(Out)`. The body blocks a worker thread while
/// the actor works; the request is bounded by the task's timeout. An error
/// reply fails the run (retryable, like any exception from a body).
template <class In, class Out>
task_ref<In, Out> executor::actor_task(task_options opts, caf::actor worker) {
  opts.may_block = true;
  auto timeout = opts.timeout;
  return task<In, Out>(
    std::move(opts),
    [this, worker, timeout](task_context&, const In& in) -> Out {
      caf::scoped_actor self{system()};
      std::optional<Out> out;
      std::string failure;
      self
        ->request(worker, std::chrono::duration_cast<caf::timespan>(timeout),
                  in)
        .receive([&](Out& reply) { out = std::move(reply); },
                 [&](caf::error& err) { failure = system().render(err); });
      if (!out)
        throw error::retryable("Actor task failed: " + failure);
      return std::move(*out);
    });
}

} // namespace durable
