#include "worker.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace bench {
namespace {

using harness::Fault;

// Connects in progress per worker: enough to open 10,000 connections in well under a
// second, few enough not to overflow the server's accept queue (listen(2), SOMAXCONN).
constexpr std::size_t kMaxConnecting = 256;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The driver's unit of work per readiness event: one read of up to 256 KiB, and writes until
// the kernel takes no more (a message, or the stream's window), as a tuned client would.
harness::DriverOptions driver_options(const Options& o) {
    return {.chunk = std::min<std::size_t>(o.size, 256 * 1024),
            .read_buffer = 256 * 1024,
            .reads_per_event = 1,
            .writes_per_event = 0,
            .watchdog = false};
}

}  // namespace

void Errors::count(Fault fault) {
    switch (fault) {
        case Fault::mismatch:
            ++mismatch;
            break;
        case Fault::extra:
            ++extra;
            break;
        case Fault::short_echo:
            ++short_echo;
            break;
        case Fault::closed:
            ++closed;
            break;
        case Fault::connect:
            ++connect;
            break;
        case Fault::io:
            ++io;
            break;
    }
}

void Errors::add(const Errors& o) {
    mismatch += o.mismatch;
    extra += o.extra;
    short_echo += o.short_echo;
    closed += o.closed;
    connect += o.connect;
    io += o.io;
}

Worker::Worker(Shared& shared, int index, int connections)
    : shared_(shared),
      opt_(shared.options),
      index_(index),
      conns_(static_cast<std::size_t>(connections)),
      driver_(opt_.address, conns_.size(), *this, driver_options(opt_)) {
    for (std::size_t i = 0; i < conns_.size(); ++i)
        pending_.push_back(i);
}

void Worker::run() {
    Phase seen = Phase::warmup;
    bool reported_quiet = false;
    std::int64_t drain_deadline = 0;
    for (;;) {
        Phase phase = shared_.phase.load(std::memory_order_acquire);
        if (phase != seen && phase >= Phase::drain && seen < Phase::drain) {
            drain_deadline = now_ns() + static_cast<std::int64_t>(opt_.timeout * 1e9);
            begin_drain();
        }
        seen = phase;
        if (phase < Phase::drain) open_pending();
        if (phase >= Phase::drain && !reported_quiet) {
            if (!quiet() && now_ns() >= drain_deadline) give_up_outstanding();
            if (quiet()) {
                reported_quiet = true;
                shared_.quiet_workers.fetch_add(1, std::memory_order_release);
            }
        }
        if (phase == Phase::done) break;
        driver_.poll(!pending_.empty() ? 1 : 10);
    }
}

void Worker::open_pending() {
    // At most one attempt per slot per turn: a connect that fails at once puts its slot
    // back (connect mode), and the phase must still be looked at between attempts.
    for (std::size_t tries = pending_.size(); tries > 0 && driver_.connecting() < kMaxConnecting; --tries) {
        std::size_t slot = pending_.back();
        pending_.pop_back();
        Conn& c = conns_[slot];
        c = Conn{.started_ns = now_ns()};
        // A message split across segments must not wait for an ACK (Nagle, tcp(7)).
        if (!driver_.open(slot, shared_.next_seed.fetch_add(1, std::memory_order_relaxed),
                          {.nodelay = true})) {
            pending_.push_back(slot);  // the unix listen queue is full: retry on the next turn
            break;
        }
    }
}

void Worker::connected(std::size_t slot) {
    established.fetch_add(1, std::memory_order_relaxed);
    switch (opt_.mode) {
        case Mode::ping:
        case Mode::connect:
            return start_message(slot);
        case Mode::stream:
            return stream_more(slot);
        case Mode::hold:
            return;  // idle until the drain phase
    }
}

void Worker::start_message(std::size_t slot) {
    if (opt_.messages != 0) {
        std::uint64_t left = shared_.budget.load(std::memory_order_relaxed);
        do {
            if (left == 0) return;
        } while (!shared_.budget.compare_exchange_weak(left, left - 1, std::memory_order_relaxed));
    }
    Conn& c = conns_[slot];
    c.message_end = driver_.stream(slot).sent + opt_.size;
    c.awaiting = true;
    if (opt_.mode != Mode::connect) c.started_ns = now_ns();  // connect mode times the whole cycle
    if (driver_.send_until(slot, c.message_end)) account(slot);
}

void Worker::stream_more(std::size_t slot) {
    const harness::Stream& s = driver_.stream(slot);
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    if (shared_.phase.load(std::memory_order_relaxed) >= Phase::drain)
        limit = s.sent;
    else if (opt_.in_flight != 0)
        limit = s.received + opt_.in_flight;  // room in flight again
    if (driver_.send_until(slot, limit)) account(slot);
}

void Worker::progressed(std::size_t slot, std::uint64_t, std::uint64_t) {
    account(slot);
    Conn& c = conns_[slot];
    if (opt_.mode == Mode::stream) return stream_more(slot);
    if (c.awaiting && driver_.stream(slot).received == c.message_end) {
        c.awaiting = false;
        on_echoed(slot);
    }
}

// Bytes sent and verified count while measuring, wherever the driver moved them.
void Worker::account(std::size_t slot) {
    Conn& c = conns_[slot];
    const harness::Stream& s = driver_.stream(slot);
    if (shared_.phase.load(std::memory_order_relaxed) == Phase::measure) {
        sent.fetch_add(s.sent - c.counted_sent, std::memory_order_relaxed);
        bytes.fetch_add(s.received - c.counted_received, std::memory_order_relaxed);
    }
    c.counted_sent = s.sent;
    c.counted_received = s.received;
}

void Worker::on_echoed(std::size_t slot) {
    Conn& c = conns_[slot];
    const Phase phase = shared_.phase.load(std::memory_order_relaxed);
    switch (opt_.mode) {
        case Mode::ping:
            if (phase == Phase::measure) {
                latency.add(std::chrono::nanoseconds(now_ns() - c.started_ns));
                messages.fetch_add(1, std::memory_order_relaxed);
            }
            if (phase < Phase::drain) start_message(slot);
            return;
        case Mode::connect:
            // Half-close and wait for the server's EOF: that proves no stray byte follows
            // the echo and that the server closes its side once it has seen ours.
            if (driver_.shutdown_write(slot)) c.half_closed = true;
            return;
        case Mode::hold:
            messages.fetch_add(1, std::memory_order_relaxed);
            c.echoed = true;
            return;
        case Mode::stream:
            return;
    }
}

void Worker::ended(std::size_t slot) {
    Conn& c = conns_[slot];
    if (opt_.mode != Mode::connect || !c.half_closed)
        return fault(slot, Fault::closed, "server closed the connection");
    const Phase phase = shared_.phase.load(std::memory_order_relaxed);
    if (phase == Phase::measure) {
        latency.add(std::chrono::nanoseconds(now_ns() - c.started_ns));
        messages.fetch_add(1, std::memory_order_relaxed);
        connects.fetch_add(1, std::memory_order_relaxed);
    }
    driver_.close(slot);
    if (phase < Phase::drain) pending_.push_back(slot);
}

void Worker::failed(std::size_t slot, Fault f, const std::string& detail) {
    fault(slot, f, detail);
}

void Worker::fault(std::size_t slot, Fault f, const std::string& detail) {
    driver_.close(slot);
    errors.count(f);
    error_count.fetch_add(1, std::memory_order_relaxed);
    if (shared_.error_lines.fetch_add(1, std::memory_order_relaxed) < 10)
        std::fprintf(stderr, "echo-bench: thread %d, connection %llu: %s\n", index_,
                     static_cast<unsigned long long>(driver_.stream(slot).seed), detail.c_str());
    // A connect-mode slot carries on with a fresh connection; elsewhere the loss stands.
    if (opt_.mode == Mode::connect && shared_.phase.load(std::memory_order_relaxed) < Phase::drain)
        pending_.push_back(slot);
}

bool Worker::quiet() const {
    for (std::size_t slot = 0; slot < conns_.size(); ++slot) {
        const harness::Stream& s = driver_.stream(slot);
        if (!s.open) continue;
        if (s.connecting || opt_.mode == Mode::connect || s.received != s.sent) return false;
        if (opt_.mode == Mode::hold && !conns_[slot].echoed) return false;
    }
    return true;
}

void Worker::begin_drain() {
    // Only connect mode leaves slots unopened on purpose.
    if (opt_.mode != Mode::connect)
        for (std::size_t slot : pending_)
            fault(slot, Fault::connect, "not connected by the end of the run");
    pending_.clear();
    if (opt_.mode == Mode::hold)
        for (std::size_t slot = 0; slot < conns_.size(); ++slot)
            if (driver_.stream(slot).open && !driver_.stream(slot).connecting) start_message(slot);
}

void Worker::give_up_outstanding() {
    char detail[160];
    for (std::size_t slot = 0; slot < conns_.size(); ++slot) {
        const harness::Stream& s = driver_.stream(slot);
        if (!s.open) continue;
        if (s.connecting) {
            fault(slot, Fault::connect, "connect still in progress at the end of the run");
        } else if (s.received != s.sent || (opt_.mode == Mode::hold && !conns_[slot].echoed)) {
            std::snprintf(detail, sizeof detail, "only %llu of %llu bytes came back within --timeout",
                          static_cast<unsigned long long>(s.received),
                          static_cast<unsigned long long>(s.sent));
            fault(slot, Fault::short_echo, detail);
        } else if (opt_.mode == Mode::connect) {
            fault(slot, Fault::short_echo, "no EOF from the server within --timeout after our half-close");
        }
    }
}

}  // namespace bench
