// Each loop's timers: a binary min-heap of deadlines behind idle timeouts, flush
// timeouts, tick and the application's own timers. Cancelling is lazy: the callback
// is dropped at once and its heap entry is skipped when it reaches the top, which
// keeps cancel O(1) (idle timers are re-armed far more often than they fire). The
// time is always passed in, never read here, so tests can drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

namespace evloop::detail {

class TimerQueue {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;

    // Returns an id, never 0, for cancel().
    std::uint64_t add(TimePoint when, std::function<void()> fn);
    // The id the next add() will return, for a callback that needs to know its own.
    std::uint64_t next_id() const { return next_id_; }
    // Returns false when the timer has already fired or been cancelled.
    bool cancel(std::uint64_t id);
    // The earliest deadline still pending, if any.
    std::optional<TimePoint> next();
    // Runs every timer due at `now`, earliest first; equal deadlines run in the order
    // they were added. Timers added by a callback wait for the next call, so a callback
    // that re-arms itself for "now" cannot starve the loop. Returns how many ran.
    std::size_t run_due(TimePoint now);
    std::size_t size() const { return callbacks_.size(); }

private:
    struct Entry {
        TimePoint when;
        std::uint64_t id;  // ids increase, so they also order equal deadlines
    };
    static bool later(const Entry& a, const Entry& b) {
        return a.when != b.when ? a.when > b.when : a.id > b.id;
    }
    void drop_cancelled_top();

    std::vector<Entry> heap_;
    std::unordered_map<std::uint64_t, std::function<void()>> callbacks_;
    std::uint64_t next_id_ = 1;
};

// now + delay, saturating: a delay too long for the clock (Duration::max(), say) means
// "never" instead of wrapping into the past, which would fire at once (and, for a timer
// that re-arms itself, on every turn of the loop). A negative delay means "now".
TimerQueue::TimePoint deadline(TimerQueue::TimePoint now, std::chrono::nanoseconds delay);

// Milliseconds until `when`, rounded up so a wait never ends before the deadline
// (ending early would make the loop spin with a zero timeout until it arrives).
int timeout_ms(TimerQueue::TimePoint now, std::optional<TimerQueue::TimePoint> when);

}  // namespace evloop::detail
