#include "worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "pattern.hpp"

namespace bench {
namespace {

// Connects in progress per worker: enough to open 10,000 connections in well under a
// second, few enough not to overflow the server's accept queue (listen(2), SOMAXCONN).
constexpr int kMaxConnecting = 256;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string describe_errno(const char* call, int err) {
    return std::string(call) + ": " + std::strerror(err);
}

}  // namespace

void Errors::add(const Errors& o) {
    mismatch += o.mismatch;
    extra += o.extra;
    short_echo += o.short_echo;
    closed += o.closed;
    connect += o.connect;
    io += o.io;
}

struct Worker::Conn {
    int fd = -1;
    std::uint32_t gen = 0;  // bumped on close: events for an earlier socket in the slot are stale
    std::uint64_t seed = 0;
    std::uint64_t sent = 0;      // bytes of the pattern written so far
    std::uint64_t received = 0;  // bytes echoed and verified so far
    std::uint64_t limit = 0;     // ping, connect, hold: the end of the current message
    std::int64_t started_ns = 0;
    bool connecting = false;
    bool writable_armed = false;
    bool half_closed = false;  // connect mode: our FIN is sent, the server's EOF is awaited
    bool echoed = false;       // hold mode: its one echo is done
};

Worker::Worker(Shared& shared, int index, int connections)
    : shared_(shared), opt_(shared.options), index_(index), conns_(static_cast<std::size_t>(connections)) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
        std::fprintf(stderr, "echo-bench: epoll_create1: %s\n", std::strerror(errno));
        std::exit(1);
    }
    rbuf_.resize(256 * 1024);
    wbuf_.resize(std::min<std::size_t>(opt_.size, 256 * 1024));
    for (std::size_t i = 0; i < conns_.size(); ++i)
        pending_.push_back(i);
}

Worker::~Worker() {
    for (auto& c : conns_)
        if (c.fd >= 0) ::close(c.fd);
    ::close(epfd_);
}

void Worker::run() {
    Phase seen = Phase::warmup;
    bool reported_quiet = false;
    std::int64_t drain_deadline = 0;
    epoll_event events[256];
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
        int timeout_ms = !pending_.empty() ? 1 : 10;
        int n = epoll_wait(epfd_, events, 256, timeout_ms);
        if (n < 0 && errno != EINTR) {
            std::fprintf(stderr, "echo-bench: epoll_wait: %s\n", std::strerror(errno));
            std::exit(1);
        }
        for (int i = 0; i < n; ++i) {
            auto slot = static_cast<std::size_t>(events[i].data.u64 & 0xffffffffu);
            auto gen = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
            Conn& c = conns_[slot];
            if (c.fd >= 0 && c.gen == gen) on_event(c, events[i].events);
        }
    }
}

void Worker::open_pending() {
    // At most one attempt per slot per turn: a connect that fails at once puts its slot
    // back (connect mode), and the phase must still be looked at between attempts.
    for (std::size_t tries = pending_.size(); tries > 0 && connecting_ < kMaxConnecting; --tries) {
        std::size_t slot = pending_.back();
        pending_.pop_back();
        if (!open(conns_[slot])) {  // the listen queue is full: retry on the next turn
            pending_.push_back(slot);
            break;
        }
    }
}

// Returns false only when the connect should be retried later.
bool Worker::open(Conn& c) {
    const common::Address& a = opt_.address;
    int fd = socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(c, Fault::connect, describe_errno("socket", errno));
        return true;
    }
    if (!a.is_unix()) {
        // A message split across segments must not wait for an ACK (Nagle, tcp(7)).
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c.fd = fd;
    c.seed = shared_.next_seed.fetch_add(1, std::memory_order_relaxed);
    c.sent = c.received = c.limit = 0;
    c.started_ns = now_ns();
    c.half_closed = c.echoed = false;
    c.writable_armed = true;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = static_cast<std::uint64_t>(c.gen) << 32 | static_cast<std::uint64_t>(&c - conns_.data());
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fail(c, Fault::connect, describe_errno("epoll_ctl", errno));
        return true;
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) == 0) {
        on_connected(c);
        return true;
    }
    if (errno == EINPROGRESS) {
        c.connecting = true;
        ++connecting_;
        return true;
    }
    if (errno == EAGAIN && a.is_unix()) {  // unix(7): the listen queue is full
        close_conn(c);
        return false;
    }
    fail(c, Fault::connect, describe_errno("connect", errno));
    return true;
}

void Worker::on_event(Conn& c, std::uint32_t events) {
    if (c.connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        c.connecting = false;
        --connecting_;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return fail(c, Fault::connect, describe_errno("connect", err));
        return on_connected(c);
    }
    const std::uint32_t gen = c.gen;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_some(c);
    if (c.fd >= 0 && c.gen == gen && (events & EPOLLOUT)) write_some(c);
}

void Worker::on_connected(Conn& c) {
    connected.fetch_add(1, std::memory_order_relaxed);
    switch (opt_.mode) {
        case Mode::ping:
        case Mode::connect:
            return start_message(c);
        case Mode::stream:
            return write_some(c);
        case Mode::hold:
            return want_writable(c, false);  // idle until the drain phase
    }
}

void Worker::start_message(Conn& c) {
    if (opt_.messages != 0) {
        std::uint64_t left = shared_.budget.load(std::memory_order_relaxed);
        do {
            if (left == 0) return want_writable(c, false);
        } while (!shared_.budget.compare_exchange_weak(left, left - 1, std::memory_order_relaxed));
    }
    c.limit = c.sent + opt_.size;
    if (opt_.mode != Mode::connect) c.started_ns = now_ns();  // connect mode times the whole cycle
    write_some(c);
}

void Worker::write_some(Conn& c) {
    std::uint64_t limit = c.limit;
    if (opt_.mode == Mode::stream) {
        if (shared_.phase.load(std::memory_order_relaxed) >= Phase::drain)
            limit = c.sent;
        else if (opt_.in_flight != 0)
            limit = c.received + opt_.in_flight;
        else
            limit = std::numeric_limits<std::uint64_t>::max();
    }
    while (c.sent < limit) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(limit - c.sent, wbuf_.size()));
        pattern_fill(c.seed, c.sent, wbuf_.data(), n);
        ssize_t w = send(c.fd, wbuf_.data(), n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return want_writable(c, true);
            if (errno == EPIPE || errno == ECONNRESET)
                return fail(c, Fault::closed, describe_errno("send", errno));
            return fail(c, Fault::io, describe_errno("send", errno));
        }
        c.sent += static_cast<std::uint64_t>(w);
        if (shared_.phase.load(std::memory_order_relaxed) == Phase::measure)
            sent.fetch_add(static_cast<std::uint64_t>(w), std::memory_order_relaxed);
    }
    want_writable(c, false);
}

void Worker::read_some(Conn& c) {
    ssize_t n = recv(c.fd, rbuf_.data(), rbuf_.size(), 0);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
        char detail[160];
        std::snprintf(detail, sizeof detail, "recv: %s after %llu of %llu bytes came back",
                      std::strerror(errno), static_cast<unsigned long long>(c.received),
                      static_cast<unsigned long long>(c.sent));
        return fail(c, errno == ECONNRESET ? Fault::closed : Fault::io, detail);
    }
    if (n == 0) return on_eof(c);
    const auto got = static_cast<std::size_t>(n);
    char detail[160];
    if (c.received + got > c.sent) {
        std::snprintf(detail, sizeof detail, "%llu bytes came back but only %llu were sent",
                      static_cast<unsigned long long>(c.received + got),
                      static_cast<unsigned long long>(c.sent));
        return fail(c, Fault::extra, detail);
    }
    std::size_t bad = pattern_check(c.seed, c.received, rbuf_.data(), got);
    if (bad != got) {
        const std::uint64_t pos = c.received + bad;
        std::snprintf(detail, sizeof detail, "byte %llu came back as 0x%02x, 0x%02x was sent there",
                      static_cast<unsigned long long>(pos), rbuf_[bad], pattern_byte(c.seed, pos));
        return fail(c, Fault::mismatch, detail);
    }
    c.received += got;
    if (shared_.phase.load(std::memory_order_relaxed) == Phase::measure)
        bytes.fetch_add(got, std::memory_order_relaxed);
    if (opt_.mode == Mode::stream) return write_some(c);  // room in flight again
    if (c.received == c.limit) on_echoed(c);
}

void Worker::on_echoed(Conn& c) {
    const Phase phase = shared_.phase.load(std::memory_order_relaxed);
    switch (opt_.mode) {
        case Mode::ping:
            if (phase == Phase::measure) {
                latency.record(static_cast<std::uint64_t>(now_ns() - c.started_ns));
                messages.fetch_add(1, std::memory_order_relaxed);
            }
            if (phase < Phase::drain) start_message(c);
            return;
        case Mode::connect:
            // Half-close and wait for the server's EOF: that proves no stray byte follows
            // the echo and that the server closes its side once it has seen ours.
            shutdown(c.fd, SHUT_WR);
            c.half_closed = true;
            return;
        case Mode::hold:
            messages.fetch_add(1, std::memory_order_relaxed);
            c.echoed = true;
            return;
        case Mode::stream:
            return;
    }
}

void Worker::on_eof(Conn& c) {
    char detail[160];
    if (c.received < c.sent) {
        std::snprintf(detail, sizeof detail, "server closed after echoing %llu of %llu bytes",
                      static_cast<unsigned long long>(c.received), static_cast<unsigned long long>(c.sent));
        return fail(c, Fault::short_echo, detail);
    }
    if (opt_.mode != Mode::connect || !c.half_closed)
        return fail(c, Fault::closed, "server closed the connection");
    const Phase phase = shared_.phase.load(std::memory_order_relaxed);
    if (phase == Phase::measure) {
        latency.record(static_cast<std::uint64_t>(now_ns() - c.started_ns));
        messages.fetch_add(1, std::memory_order_relaxed);
        connects.fetch_add(1, std::memory_order_relaxed);
    }
    close_conn(c);
    if (phase < Phase::drain) pending_.push_back(static_cast<std::size_t>(&c - conns_.data()));
}

void Worker::fail(Conn& c, Fault fault, const std::string& detail) {
    switch (fault) {
        case Fault::mismatch:
            ++errors.mismatch;
            break;
        case Fault::extra:
            ++errors.extra;
            break;
        case Fault::short_echo:
            ++errors.short_echo;
            break;
        case Fault::closed:
            ++errors.closed;
            break;
        case Fault::connect:
            ++errors.connect;
            break;
        case Fault::io:
            ++errors.io;
            break;
    }
    error_count.fetch_add(1, std::memory_order_relaxed);
    if (shared_.error_lines.fetch_add(1, std::memory_order_relaxed) < 10)
        std::fprintf(stderr, "echo-bench: thread %d, connection %llu: %s\n", index_,
                     static_cast<unsigned long long>(c.seed), detail.c_str());
    if (c.connecting) {
        c.connecting = false;
        --connecting_;
    }
    close_conn(c);
    // A connect-mode slot carries on with a fresh connection; elsewhere the loss stands.
    if (opt_.mode == Mode::connect && shared_.phase.load(std::memory_order_relaxed) < Phase::drain)
        pending_.push_back(static_cast<std::size_t>(&c - conns_.data()));
}

void Worker::close_conn(Conn& c) {
    if (c.fd >= 0) ::close(c.fd);  // close(2) also removes it from the epoll set
    c.fd = -1;
    ++c.gen;
    c.writable_armed = false;
}

void Worker::want_writable(Conn& c, bool on) {
    if (c.writable_armed == on) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = static_cast<std::uint64_t>(c.gen) << 32 | static_cast<std::uint64_t>(&c - conns_.data());
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) < 0)
        return fail(c, Fault::io, describe_errno("epoll_ctl", errno));
    c.writable_armed = on;
}

bool Worker::quiet() const {
    for (const auto& c : conns_) {
        if (c.fd < 0) continue;
        if (c.connecting || opt_.mode == Mode::connect || c.received != c.sent) return false;
        if (opt_.mode == Mode::hold && !c.echoed) return false;
    }
    return true;
}

void Worker::begin_drain() {
    // Only connect mode leaves slots unopened on purpose.
    if (opt_.mode != Mode::connect)
        for (std::size_t slot : pending_)
            fail(conns_[slot], Fault::connect, "not connected by the end of the run");
    pending_.clear();
    if (opt_.mode == Mode::hold)
        for (auto& c : conns_)
            if (c.fd >= 0 && !c.connecting) start_message(c);
}

void Worker::give_up_outstanding() {
    char detail[160];
    for (auto& c : conns_) {
        if (c.fd < 0) continue;
        if (c.connecting) {
            fail(c, Fault::connect, "connect still in progress at the end of the run");
        } else if (c.received != c.sent || (opt_.mode == Mode::hold && !c.echoed)) {
            std::snprintf(detail, sizeof detail, "only %llu of %llu bytes came back within --timeout",
                          static_cast<unsigned long long>(c.received),
                          static_cast<unsigned long long>(c.sent));
            fail(c, Fault::short_echo, detail);
        } else if (opt_.mode == Mode::connect) {
            fail(c, Fault::short_echo, "no EOF from the server within --timeout after our half-close");
        }
    }
}

}  // namespace bench
