// Time in tests: every bound scaled by one environment variable, deadlines that never outlast
// the case, the watchdog that enforces them, and the one exception every helper throws.
//
// EVLOOP_TEST_TIME_SCALE multiplies every time bound (default 1; the sanitizer presets set 4
// and 6), so a slow machine stretches the bounds instead of failing the tests. A bound exists
// to catch a hang, never to measure speed: that is the benchmark's job.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>

namespace harness {

using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;
using std::chrono::milliseconds;

// Thrown by every helper when the server misbehaves (wrong byte, unexpected reset,
// deadline passed, ...). The message says what was expected and what happened.
class Failure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// EVLOOP_TEST_TIME_SCALE as a number; 1 when unset or not a positive number.
double time_scale();

// A time bound multiplied by the scale, rounded up. Use it for every bound a slow machine
// could break.
milliseconds scaled(milliseconds bound);

double to_ms(Duration d);

// A point in time after which a wait gives up. A default-constructed Deadline means
// "the current case's watchdog deadline" (or 60 s from now outside any case); every
// deadline is also capped by the case deadline, so no helper ever waits past it.
class Deadline {
public:
    Deadline() = default;
    static Deadline after(Duration d) { return Deadline(Clock::now() + d); }
    static Deadline at(Clock::time_point t) { return Deadline(t); }

    Clock::time_point when() const;  // resolved and capped
    bool expired() const { return Clock::now() >= when(); }
    Duration remaining() const;
    int poll_timeout_ms() const;  // for poll()/epoll_wait(): rounded up, never negative

private:
    explicit Deadline(Clock::time_point t) : at_(t) {}
    std::optional<Clock::time_point> at_;
};

// The deadline `bound` (scaled) from now: how a case bounds one wait.
inline Deadline within(milliseconds bound) {
    return Deadline::after(scaled(bound));
}

// Sleeps for d, but returns early (throwing Failure) when the watchdog fires.
void sleep_for(Duration d);

// The watchdog: at the case's deadline it kills the servers and shuts down the client
// sockets the helpers registered, so every wait ends. Case arms and disarms it; code that
// runs outside a Case may too.
void watchdog_arm(Clock::time_point deadline, milliseconds limit);
void watchdog_disarm();
bool watchdog_fired();

}  // namespace harness
