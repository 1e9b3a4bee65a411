// Fuzzes the timer heap against a std::multimap with a fake clock. Each input is a program
// of operations, one per byte pair (opcode, argument):
//   add a timer `arg` ms from now | cancel the timer added `arg` additions ago |
//   advance the clock by `arg` ms and run what is due | check next()
// The heap must run exactly the timers the model says are due, in the model's order
// (deadline, then the order they were added), and never one that was cancelled.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "timer.hpp"

namespace {

void require(bool ok, const char* what, std::size_t step) {
    if (ok) return;
    std::fprintf(stderr, "timer fuzz finding at operation %zu: %s\n", step, what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using evloop::detail::TimerQueue;
    using std::chrono::milliseconds;
    TimerQueue queue;
    TimerQueue::TimePoint now{};
    // The model: (deadline, sequence) -> label; sequence orders equal deadlines.
    std::multimap<std::pair<TimerQueue::TimePoint, std::uint64_t>, int> model;
    std::vector<std::uint64_t> ids;                                     // queue id of label i
    std::vector<std::pair<TimerQueue::TimePoint, std::uint64_t>> keys;  // model key of label i
    std::vector<int> ran;
    for (std::size_t i = 0; i + 1 < size; i += 2) {
        unsigned arg = data[i + 1];
        switch (data[i] % 4) {
            case 0: {
                int label = static_cast<int>(ids.size());
                auto when = now + milliseconds(arg);
                ids.push_back(queue.add(when, [&ran, label] { ran.push_back(label); }));
                keys.emplace_back(when, ids.size());
                model.emplace(keys.back(), label);
                break;
            }
            case 1: {
                if (ids.empty()) break;
                std::size_t label = ids.size() - 1 - (arg % ids.size());
                bool pending = false;
                auto [lo, hi] = model.equal_range(keys[label]);
                for (auto it = lo; it != hi; ++it)
                    if (it->second == static_cast<int>(label)) {
                        model.erase(it);
                        pending = true;
                        break;
                    }
                require(queue.cancel(ids[label]) == pending, "cancel() disagrees with the model", i);
                break;
            }
            case 2: {
                now += milliseconds(arg);
                std::vector<int> expected;
                while (!model.empty() && model.begin()->first.first <= now) {
                    expected.push_back(model.begin()->second);
                    model.erase(model.begin());
                }
                ran.clear();
                require(queue.run_due(now) == expected.size(), "run_due ran a different number", i);
                require(ran == expected, "run_due ran timers in the wrong order", i);
                break;
            }
            default: {
                auto next = queue.next();
                require(next.has_value() == !model.empty(), "next() says pending when none is (or not)", i);
                if (next)
                    require(*next == model.begin()->first.first, "next() is not the earliest deadline", i);
            }
        }
        require(queue.size() == model.size(), "size differs from the model", i);
    }
    return 0;
}
