#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include <caf/all.hpp>

/// Scripted actors for tests on CAF's deterministic coordinator: an actor
/// that answers nothing by itself but records each message with the
/// promise of its reply, so that the test decides what comes back and
/// when (a message can be made to arrive exactly while a request is in
/// flight).
///
/// Threading: the test thread reads and answers the inbox between runs of
/// the coordinator; a reply is delivered from within the scripted actor
/// (a response promise may be delivered only by the actor that made it).
namespace durable::test {

/// Work a scripted actor runs on its own thread of control.
struct in_actor {
  std::function<void()> fn;
};

} // namespace durable::test

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::test::in_actor)

namespace durable::test {

/// What a scripted actor received, each with the promise of its reply.
struct inbox {
  struct call {
    caf::message msg;
    caf::response_promise rp;
    /// The scripted actor that received it (and must deliver the reply).
    caf::actor owner;

    /// Delivers `reply` (a value or a caf::error) from within the owner.
    template <class T>
    void answer(T reply) {
      caf::anon_send(owner,
                     in_actor{[rp = rp, reply = std::move(reply)]() mutable {
                       rp.deliver(std::move(reply));
                     }});
    }

    bool is(caf::atom_value a) const {
      return msg.size() > 0 && msg.match_element<caf::atom_value>(0)
             && msg.get_as<caf::atom_value>(0) == a;
    }
  };
  std::deque<call> calls;

  /// Takes the oldest call of kind `a`, if any.
  std::optional<call> take(caf::atom_value a) {
    for (auto i = calls.begin(); i != calls.end(); ++i)
      if (i->is(a)) {
        auto c = std::move(*i);
        calls.erase(i);
        return c;
      }
    return std::nullopt;
  }

  int count(caf::atom_value a) const {
    int n = 0;
    for (const auto& c : calls)
      n += c.is(a) ? 1 : 0;
    return n;
  }
};

/// The behavior of a scripted actor that records into `box`.
inline caf::behavior scripted(caf::event_based_actor* self,
                              std::shared_ptr<inbox> box) {
  self->set_default_handler(
    [box](caf::scheduled_actor* s,
          caf::message_view& x) -> caf::result<caf::message> {
      auto rp = s->make_response_promise();
      box->calls.push_back(
        {x.move_content_to_message(), rp, caf::actor_cast<caf::actor>(s)});
      return rp;
    });
  return {[](in_actor& work) { work.fn(); }};
}

} // namespace durable::test
