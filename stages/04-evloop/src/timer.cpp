// The timer heap; see timer.hpp for why cancelling is lazy.
#include "timer.hpp"

#include <algorithm>

namespace evloop::detail {

std::uint64_t TimerQueue::add(TimePoint when, std::function<void()> fn) {
    std::uint64_t id = next_id_++;
    callbacks_.emplace(id, std::move(fn));
    heap_.push_back(Entry{when, id});
    std::push_heap(heap_.begin(), heap_.end(), later);
    return id;
}

bool TimerQueue::cancel(std::uint64_t id) {
    bool found = callbacks_.erase(id) > 0;
    // Without this, a program that arms and cancels timers forever would grow the heap
    // forever: rebuild it once cancelled entries outnumber live ones.
    if (heap_.size() > 64 && heap_.size() > 2 * callbacks_.size()) {
        std::erase_if(heap_, [&](const Entry& e) { return !callbacks_.contains(e.id); });
        std::make_heap(heap_.begin(), heap_.end(), later);
    }
    return found;
}

void TimerQueue::drop_cancelled_top() {
    while (!heap_.empty() && !callbacks_.contains(heap_.front().id)) {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        heap_.pop_back();
    }
}

std::optional<TimerQueue::TimePoint> TimerQueue::next() {
    drop_cancelled_top();
    if (heap_.empty()) return std::nullopt;
    return heap_.front().when;
}

std::size_t TimerQueue::run_due(TimePoint now) {
    std::uint64_t limit = next_id_;
    std::size_t ran = 0;
    for (;;) {
        drop_cancelled_top();
        if (heap_.empty()) break;
        Entry top = heap_.front();
        if (top.when > now || top.id >= limit) break;
        std::pop_heap(heap_.begin(), heap_.end(), later);
        heap_.pop_back();
        auto it = callbacks_.find(top.id);
        auto fn = std::move(it->second);
        callbacks_.erase(it);
        fn();
        ++ran;
    }
    return ran;
}

TimerQueue::TimePoint deadline(TimerQueue::TimePoint now, std::chrono::nanoseconds delay) {
    using D = TimerQueue::Clock::duration;
    if (delay.count() <= 0) return now;
    auto room = TimerQueue::TimePoint::max() - now;  // never negative: now is a real time
    if (delay >= std::chrono::duration_cast<std::chrono::nanoseconds>(room))
        return TimerQueue::TimePoint::max();
    return now + std::chrono::duration_cast<D>(delay);
}

int timeout_ms(TimerQueue::TimePoint now, std::optional<TimerQueue::TimePoint> when) {
    if (!when) return -1;
    if (*when <= now) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(*when - now).count();
    return ms > 3600000 ? 3600000 : static_cast<int>(ms);
}

}  // namespace evloop::detail
