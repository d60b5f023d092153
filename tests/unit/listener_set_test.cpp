#include <atomic>
#include <cstdint>
#include <future>
#include <latch>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "durable/listener_set.hpp"

namespace durable::test {

namespace {

std::vector<store_event> events(std::vector<std::string> ids) {
  std::vector<store_event> out;
  for (auto& id : ids) {
    store_event e;
    e.kind = store_event::type::finished;
    e.execution_id = std::move(id);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::string> ids_of(const std::vector<store_event>& es) {
  std::vector<std::string> out;
  for (const auto& e : es)
    out.push_back(e.execution_id);
  return out;
}

} // namespace

TEST_SUITE("listener_set") {
  TEST_CASE("every listener hears each notification once, in the order they "
            "subscribed") {
    listener_set set;
    CHECK(set.empty());
    std::vector<std::string> calls;
    std::vector<std::vector<std::string>> heard(3);
    for (int i = 0; i < 3; ++i)
      set.subscribe([&, i](std::vector<store_event> es) {
        calls.push_back("l" + std::to_string(i));
        heard[static_cast<std::size_t>(i)] = ids_of(es);
      });
    CHECK_FALSE(set.empty());
    CHECK_EQ(set.size(), 3u);
    set.notify(events({"te_1", "te_2"}));
    CHECK_EQ(calls, std::vector<std::string>{"l0", "l1", "l2"});
    for (const auto& h : heard)
      CHECK_EQ(h, std::vector<std::string>{"te_1", "te_2"});
  }

  TEST_CASE("no events call nobody") {
    listener_set set;
    int calls = 0;
    set.subscribe([&](std::vector<store_event>) { ++calls; });
    set.notify({});
    CHECK_EQ(calls, 0);
    listener_set none;
    none.notify(events({"te_1"})); // no listener: nothing to call
    CHECK(none.empty());
  }

  TEST_CASE("tokens are distinct and unsubscribe removes only its listener") {
    listener_set set;
    std::vector<int> calls(3, 0);
    std::set<std::uint64_t> tokens;
    std::vector<std::uint64_t> order;
    for (int i = 0; i < 3; ++i) {
      auto t = set.subscribe([&calls, i](std::vector<store_event>) {
        ++calls[static_cast<std::size_t>(i)];
      });
      CHECK_NE(t, 0u);
      tokens.insert(t);
      order.push_back(t);
    }
    CHECK_EQ(tokens.size(), 3u);
    set.unsubscribe(order[1]);
    set.unsubscribe(order[1]);        // gone already: nothing happens
    set.unsubscribe(order[2] + 1000); // never handed out
    CHECK_EQ(set.size(), 2u);
    set.notify(events({"te_1"}));
    CHECK_EQ(calls, std::vector<int>{1, 0, 1});
    // A token is never reused, even after its listener left.
    auto again = set.subscribe([](std::vector<store_event>) {});
    CHECK_FALSE(tokens.contains(again));
    set.unsubscribe(order[0]);
    set.unsubscribe(order[2]);
    set.unsubscribe(again);
    CHECK(set.empty());
  }

  TEST_CASE("a listener that throws stops neither the others nor notify") {
    listener_set set;
    int after = 0;
    set.subscribe(
      [](std::vector<store_event>) { throw std::runtime_error("boom"); });
    set.subscribe([&](std::vector<store_event>) { ++after; });
    CHECK_NOTHROW(set.notify(events({"te_1"})));
    CHECK_EQ(after, 1);
  }

  TEST_CASE("a listener is never called after its unsubscribe returned") {
    listener_set set;
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<bool> unsubscribed{false};
    std::atomic<int> calls{0};
    std::atomic<bool> called_after{false};
    auto token = set.subscribe([&](std::vector<store_event>) {
      if (unsubscribed.load())
        called_after = true;
      if (calls.fetch_add(1) == 0) {
        entered.set_value();
        released.wait();
        // unsubscribe() may be waiting by now; it must not have returned.
        if (unsubscribed.load())
          called_after = true;
      }
    });
    std::thread notifier{[&] { set.notify(events({"te_1"})); }};
    entered.get_future().wait();
    std::latch about_to{1};
    std::thread leaver{[&] {
      about_to.count_down();
      set.unsubscribe(token);
      unsubscribed = true;
    }};
    about_to.wait();
    release.set_value();
    notifier.join();
    leaver.join();
    set.notify(events({"te_2"}));
    CHECK_EQ(calls.load(), 1);
    CHECK_FALSE(called_after.load());
    CHECK(set.empty());
  }
}

} // namespace durable::test
