// What a server's loops share: the stop request, the connection count behind max_conns,
// the first exception a callback threw, the check of the options, and rate-limited
// warnings.
#include "shared.hpp"

#include <cstdio>
#include <map>
#include <utility>

#include "loop.hpp"

namespace evloop::detail {

Shared::Shared() = default;
Shared::~Shared() = default;

bool Shared::reserve_conn() {
    std::size_t cap = options.max_conns;
    std::size_t now = conns_.load(std::memory_order_relaxed);
    do {
        if (cap > 0 && now >= cap) return false;
    } while (!conns_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
}

void Shared::request_stop() {
    std::lock_guard lock(stop_mutex);
    if (stop_requested) return;
    stop_requested = true;
    for (auto& loop : loops)
        if (loop) loop->mailbox()->post([](Loop& l) { l.begin_stop(); });
}

void Shared::fail(std::exception_ptr error) {
    {
        std::lock_guard lock(failure_mutex_);
        if (!failure_) failure_ = std::move(error);
    }
    request_stop();
}

std::exception_ptr Shared::failure() {
    std::lock_guard lock(failure_mutex_);
    return failure_;
}

Error check_options(const Options& o) {
    auto bad = [](const std::string& what) { return Error{EINVAL, "bad option: " + what}; };
    if (o.loops == 0 || o.loops < -1) return bad("Options::loops must be -1 (one per CPU) or at least 1");
    if (o.idle_timeout.count() < 0) return bad("Options::idle_timeout must not be negative");
    if (o.close_timeout.count() <= 0) return bad("Options::close_timeout must be positive");
    if (o.linger_timeout.count() < 0) return bad("Options::linger_timeout must not be negative");
    if (o.stop_timeout.count() < 0) return bad("Options::stop_timeout must not be negative");
    if (o.high_water == 0) return bad("Options::high_water must be positive");
    if (o.low_water && *o.low_water >= o.high_water)
        return bad("Options::low_water (" + std::to_string(*o.low_water) + ") must be below high_water (" +
                   std::to_string(o.high_water) + ")");
    if (o.max_output > 0 && o.max_output <= o.high_water)
        return bad("Options::max_output (" + std::to_string(o.max_output) + ") must be above high_water (" +
                   std::to_string(o.high_water) + ") or 0");
    return {};
}

void warn_limited(const char* key, const std::string& message) {
    struct State {
        std::chrono::steady_clock::time_point last{};
        unsigned long suppressed = 0;
    };
    static std::mutex mutex;
    static std::map<std::string, State> states;
    std::lock_guard lock(mutex);
    auto now = std::chrono::steady_clock::now();
    auto& state = states[key];
    if (state.last != std::chrono::steady_clock::time_point{} && now - state.last < std::chrono::seconds(1)) {
        ++state.suppressed;
        return;
    }
    if (state.suppressed)
        std::fprintf(stderr, "%s (%lu similar lines suppressed)\n", message.c_str(), state.suppressed);
    else
        std::fprintf(stderr, "%s\n", message.c_str());
    state.last = now;
    state.suppressed = 0;
}

}  // namespace evloop::detail
