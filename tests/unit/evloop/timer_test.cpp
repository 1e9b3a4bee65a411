// The per-loop timer heap, driven by a fake clock.
#include "timer.hpp"
#include "doctest/doctest.h"

using evloop::detail::TimerQueue;
using namespace std::chrono_literals;

TEST_CASE("timers run in deadline order, ties in the order added, none before its time") {
    TimerQueue q;
    TimerQueue::TimePoint t0{};
    std::vector<int> ran;
    q.add(t0 + 30ms, [&] { ran.push_back(3); });
    q.add(t0 + 10ms, [&] { ran.push_back(1); });
    q.add(t0 + 20ms, [&] { ran.push_back(20); });
    q.add(t0 + 20ms, [&] { ran.push_back(21); });
    CHECK(q.next() == t0 + 10ms);
    CHECK(q.run_due(t0 + 9ms) == 0);
    CHECK(q.run_due(t0 + 20ms) == 3);
    CHECK(ran == std::vector<int>{1, 20, 21});
    CHECK(q.run_due(t0 + 100ms) == 1);
    CHECK(ran.back() == 3);
    CHECK_FALSE(q.next().has_value());
}

TEST_CASE("a cancelled timer never runs, and cancelling twice says so") {
    TimerQueue q;
    TimerQueue::TimePoint t0{};
    bool ran = false;
    auto id = q.add(t0 + 5ms, [&] { ran = true; });
    CHECK(q.cancel(id));
    CHECK_FALSE(q.cancel(id));
    CHECK(q.run_due(t0 + 1s) == 0);
    CHECK_FALSE(ran);
    CHECK(q.size() == 0);
}

TEST_CASE("a timer that re-arms itself for now waits for the next round") {
    TimerQueue q;
    TimerQueue::TimePoint t0{};
    int runs = 0;
    std::function<void()> again = [&] {
        ++runs;
        q.add(t0, again);
    };
    q.add(t0, again);
    CHECK(q.run_due(t0) == 1);
    CHECK(q.run_due(t0) == 1);
    CHECK(runs == 2);
}

TEST_CASE("cancelling many timers keeps the heap small") {
    TimerQueue q;
    TimerQueue::TimePoint t0{};
    for (int i = 0; i < 10000; ++i)
        q.cancel(q.add(t0 + std::chrono::milliseconds(i), [] {}));
    CHECK(q.size() == 0);
    CHECK_FALSE(q.next().has_value());
}

TEST_CASE("wait timeouts round up so a loop never wakes before a deadline") {
    TimerQueue::TimePoint t0{};
    CHECK(evloop::detail::timeout_ms(t0, std::nullopt) == -1);
    CHECK(evloop::detail::timeout_ms(t0, t0) == 0);
    CHECK(evloop::detail::timeout_ms(t0, t0 + 1us) == 1);
    CHECK(evloop::detail::timeout_ms(t0, t0 + 1500us) == 2);
}
