// What every loop of one server shares: the application's callbacks and options, the
// addresses, the loops themselves, and the few counters that cross threads. Set up
// before the loops start; afterwards read-only, atomic, or behind a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "evloop/evloop.hpp"

namespace evloop::detail {

class Loop;

struct Shared {
    Shared();
    ~Shared();

    Events events;
    Options options;            // checked by check_options(): every value is usable
    std::size_t low_water = 0;  // options.low_water, or its default
    std::vector<common::Address> addresses;
    std::vector<SocketAddress> bound;  // what each address is bound to (port 0 resolved)
    std::vector<std::unique_ptr<Loop>> loops;

    // Handles compare by generation, so it is unique across the whole server, not per loop.
    std::uint64_t new_generation() { return next_generation_.fetch_add(1, std::memory_order_relaxed); }

    // max_conns: a check and an increment in one step, so acceptors on several loops
    // cannot both take the last place.
    bool reserve_conn();
    void release_conn() { conns_.fetch_sub(1, std::memory_order_relaxed); }

    std::mutex stop_mutex;
    bool stop_requested = false;  // guarded by stop_mutex
    void request_stop();          // any thread: posts a stop to every loop

    // An exception escaped a callback: keep the first for serve() to rethrow, and stop.
    void fail(std::exception_ptr error);
    std::exception_ptr failure();

private:
    std::atomic<std::size_t> conns_{0};
    std::atomic<std::uint64_t> next_generation_{1};
    std::mutex failure_mutex_;
    std::exception_ptr failure_;
};

// Options as the application gave them, checked: an Error naming the first bad one.
Error check_options(const Options& options);

// Rate-limited warning to stderr: at most one line per key per second.
void warn_limited(const char* key, const std::string& message);

}  // namespace evloop::detail
