// Stage 05: completion-based I/O with io_uring.
//
// Adds: no readiness at all. The kernel is handed the work itself: one multishot accept, one
// multishot receive per connection into a ring of buffers the kernel picks from, one send in
// flight per connection with later bytes queued behind it. A whole turn of the loop, every
// send it starts and every wait, is one io_uring_enter. Stage 03's lessons stay: water marks
// (here a receive is cancelled, not an interest dropped), half-close, EMFILE without a spin.
// Lacks what stage 03 lacks (timers, more listeners or threads, reuse), and io_uring itself
// where a kernel or container refuses it: then it says why and exits 1.
//
// Most of the odd code below answers what changes when the kernel does the I/O (io_uring(7)):
//  * Memory handed to the kernel is the kernel's until the completion comes back: a ring
//    buffer being sent must not go back to the ring, and a connection whose receive or send
//    is still in flight must not be freed. So a close is a request too: cancel, wait, free.
//  * Completions arrive in their own order, each naming its request only by user_data: the
//    connection's address, with the kind of request in its low bits.
//  * A multishot request ends when it likes (ENOBUFS, an error, a full completion queue):
//    a completion without IORING_CQE_F_MORE is the last one, and it is ours to re-arm.
//  * The rings are bounded. A full submission queue is submitted early; a full completion
//    queue spills into the kernel (IORING_FEAT_NODROP) and is drained by the next wait.
//
// Try it: stage05-echo --trace, then `nc 127.0.0.1 5000` in two terminals.

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/listen.hpp"
#include "common/process.hpp"

namespace {

// ANCHOR: constants
constexpr unsigned kQueueDepth = 1024;           // submission queue entries
constexpr unsigned kCompletions = 8192;          // completion queue entries
constexpr unsigned kBuffers = 64;                // in the provided-buffer ring (a power of two)...
constexpr std::size_t kBufferSize = 32 * 1024;   // ...each taking one receive of up to 32 KiB
constexpr unsigned kMaxLent = kBuffers / 2;      // ring buffers that sends may hold at once
constexpr std::size_t kHighWater = 1024 * 1024;  // unsent bytes at which we stop receiving...
constexpr std::size_t kLowWater = 256 * 1024;    // ...and below which we receive again
constexpr int kGroup = 0;                        // the ring's buffer group id
// ANCHOR_END: constants

// ANCHOR: conn
struct Conn {
    common::Fd fd;
    // The send in flight (none while empty) reads `sending`: a lent ring buffer's bytes, or
    // `copy`'s. Neither may change until it completes; bytes received meanwhile wait in `out`.
    std::string_view sending;
    int lent = -1;                   // the ring buffer it reads, or -1
    std::string copy;                // what it reads otherwise
    std::string out;                 // received while a send was in flight: sent next
    bool recv_armed = false;         // a multishot receive is in the kernel...
    bool recv_cancelling = false;    // ...and we have asked for it back
    bool reading = true;             // false while the output is above the high-water mark
    bool peer_done = false;          // a receive completed with 0: the client sends nothing more
    bool closing = false;            // close_conn() ran; freed once nothing is in flight
    std::list<Conn>::iterator self;  // where the server's list holds it
    std::size_t pending() const { return sending.size() + out.size(); }
};

struct Server {
    io_uring ring{};
    io_uring_buf_ring* buffers = nullptr;  // the ring of buffer descriptors the kernel takes from
    std::unique_ptr<char[]> memory;        // kBuffers * kBufferSize bytes they point into
    unsigned returned = 0;                 // buffers given back since the ring's tail last moved
    unsigned lent = 0;                     // buffers held by sends in flight
    common::Fd listener;
    std::list<Conn> conns;        // stable addresses: the kernel hands them back as user_data
    bool accept_blocked = false;  // the multishot accept ran out of fds; clients wait queued
    ~Server() {                   // not on a setup failure: std::exit leaves the stack as it is
        io_uring_queue_exit(&ring);
        ::munmap(buffers, kBuffers * sizeof(io_uring_buf));
    }
};
// ANCHOR_END: conn

// ANCHOR: token
// What the kernel hands back with each completion: the connection's address, with the kind
// of request in the low three bits (a Conn is 8-aligned). Server-wide requests have no Conn.
enum Op : std::uint64_t { kAccept = 1, kStop = 2, kCancel = 3, kRecv = 4, kSend = 5 };
constexpr std::uint64_t kOpMask = 7;
static_assert(alignof(Conn) > kOpMask);

std::uint64_t token(Conn* c, Op op) {
    return reinterpret_cast<std::uintptr_t>(c) | op;
}
// ANCHOR_END: token

// One --trace line per completion: "recv fd 7 -> 64 in buffer 3 (more)", "send fd 7 -> EPIPE".
// Built only when tracing: the hot path pays for no strings.
void trace_completion(const char* what, int fd, int res, unsigned flags) {
    if (!common::tracing()) return;
    std::string text = res < 0 ? common::errno_name(-res) : std::to_string(res);
    if (flags & IORING_CQE_F_BUFFER) text += " in buffer " + std::to_string(flags >> IORING_CQE_BUFFER_SHIFT);
    if (flags & IORING_CQE_F_MORE) text += " (more)";
    common::trace("%s%s%s -> %s", what, fd >= 0 ? " fd " : "", fd >= 0 ? std::to_string(fd).c_str() : "",
                  text.c_str());
}

// ---------------------------------------------------------------- the rings

char* buffer(Server& server, unsigned bid) {
    return server.memory.get() + std::size_t{bid} * kBufferSize;
}

// ANCHOR: give-back
// Puts buffer `bid` back at the ring's tail, for the kernel to fill again. The tail itself
// moves once per turn (refill), so the kernel sees a whole turn's buffers at once.
void give_back(Server& server, unsigned bid) {
    io_uring_buf_ring_add(server.buffers, buffer(server, bid), kBufferSize, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(kBuffers), static_cast<int>(server.returned++));
}

void refill(Server& server) {
    if (server.returned == 0) return;
    io_uring_buf_ring_advance(server.buffers, static_cast<int>(server.returned));
    common::trace("buffer ring: %u buffers given back", server.returned);
    server.returned = 0;
}
// ANCHOR_END: give-back

// ANCHOR: get-sqe
// A slot in the submission queue. When it is full, submit what it holds now rather than at
// the end of the turn: one extra io_uring_enter, and nothing is lost.
io_uring_sqe* get_sqe(Server& server) {
    for (;;) {
        if (io_uring_sqe* sqe = io_uring_get_sqe(&server.ring)) return sqe;
        refill(server);
        int n = io_uring_submit(&server.ring);
        trace_completion("submission queue full: io_uring_enter", -1, n, 0);
        if (n < 0 && n != -EINTR && n != -EAGAIN && n != -EBUSY) common::die("io_uring_enter", -n);
    }
}
// ANCHOR_END: get-sqe

// ANCHOR: buffer-ring
// The provided-buffer ring (io_uring_register_buf_ring(3)): a page-aligned array of buffer
// descriptors shared with the kernel, which takes one from the head for each receive and
// names it in the completion. liburing 2.4's io_uring_setup_buf_ring does this; Debian 12
// has 2.3, so we map it ourselves. The buffers are plain memory, touched only when used.
void setup_buffers(Server& server) {
    void* ring = ::mmap(nullptr, kBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring == MAP_FAILED) common::die("mmap", errno);
    server.buffers = static_cast<io_uring_buf_ring*>(ring);
    io_uring_buf_ring_init(server.buffers);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring);
    reg.ring_entries = kBuffers;
    reg.bgid = kGroup;
    if (int err = io_uring_register_buf_ring(&server.ring, &reg, 0))
        common::die("io_uring_register_buf_ring", -err);
    server.memory.reset(new char[kBuffers * kBufferSize]);
    for (unsigned bid = 0; bid < kBuffers; ++bid)
        give_back(server, bid);
    refill(server);
}
// ANCHOR_END: buffer-ring

// ---------------------------------------------------------------- requests

void arm_accept(Server& server) {
    io_uring_sqe* sqe = get_sqe(server);
    io_uring_prep_multishot_accept(sqe, server.listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, token(nullptr, kAccept));
    common::trace("submit accept (multishot)");
}

// ANCHOR: arm-recv
// One request for every receive to come: each completion names the ring buffer the kernel
// filled, and IORING_CQE_F_MORE while the request goes on.
void arm_recv(Server& server, Conn& c) {
    io_uring_sqe* sqe = get_sqe(server);
    io_uring_prep_recv_multishot(sqe, c.fd.get(), nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kGroup;
    io_uring_sqe_set_data64(sqe, token(&c, kRecv));
    c.recv_armed = true;
    common::trace("submit recv fd %d (multishot, buffers from the ring)", c.fd.get());
}
// ANCHOR_END: arm-recv

// ANCHOR: send
// The one send a connection may have in flight: a second could run first and reorder the
// stream. `data` is a lent ring buffer's or c.copy's, and stays put until it completes.
void send(Server& server, Conn& c, std::string_view data) {
    io_uring_sqe* sqe = get_sqe(server);
    io_uring_prep_send(sqe, c.fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, token(&c, kSend));
    c.sending = data;
    if (c.lent >= 0)
        common::trace("submit send fd %d %zu bytes from buffer %d", c.fd.get(), data.size(), c.lent);
    else
        common::trace("submit send fd %d %zu bytes from the output buffer", c.fd.get(), data.size());
}

// Sends what is queued: `out` becomes the copy the send reads, which stays put until it completes.
void send_queued(Server& server, Conn& c) {
    c.copy.swap(c.out);
    c.out.clear();
    send(server, c, c.copy);
}
// ANCHOR_END: send

// Asks the kernel to end request `op` of c; its own completion (-ECANCELED) says when it has.
void cancel(Server& server, Conn& c, Op op) {
    io_uring_sqe* sqe = get_sqe(server);
    io_uring_prep_cancel64(sqe, token(&c, op), 0);
    io_uring_sqe_set_data64(sqe, token(nullptr, kCancel));
    if (op == kRecv) c.recv_cancelling = true;
    common::trace("submit cancel fd %d %s", c.fd.get(), op == kRecv ? "recv" : "send");
}

// ANCHOR: echo
// A receive filled ring buffer `bid`. Send straight from it while nothing is queued ahead
// (the common case copies nothing); otherwise copy it behind the queue and give it back at
// once, so a client that does not read holds one ring buffer at most, never the ring.
void echo(Server& server, Conn& c, unsigned bid, std::size_t len) {
    if (c.sending.empty() && server.lent < kMaxLent) {
        c.lent = static_cast<int>(bid);
        ++server.lent;
        send(server, c, {buffer(server, bid), len});
        return;
    }
    c.out.append(buffer(server, bid), len);
    give_back(server, bid);
    if (c.sending.empty()) send_queued(server, c);  // half the ring is lent already
}
// ANCHOR_END: echo

void return_lent(Server& server, Conn& c) {
    if (c.lent < 0) return;
    give_back(server, static_cast<unsigned>(c.lent));
    --server.lent;
    c.lent = -1;
}

// ---------------------------------------------------------------- handlers

// ANCHOR: close-conn
// Freeing c while the kernel still holds a request of it would let a completion, or the
// kernel's own copy, land in freed memory. So the first call asks the kernel to cancel what
// is in flight, each completion that follows calls again, and the last one frees c (which
// closes its socket).
void close_conn(Server& server, Conn& c) {
    if (!c.closing) {
        c.closing = true;
        if (c.recv_armed && !c.recv_cancelling) cancel(server, c, kRecv);
        if (!c.sending.empty()) cancel(server, c, kSend);
    }
    if (c.recv_armed || !c.sending.empty()) return;
    common::trace("close fd %d", c.fd.get());
    // The multishot accept may be waiting for a free fd: this is one.
    if (server.accept_blocked) {
        server.accept_blocked = false;
        arm_accept(server);
    }
    server.conns.erase(c.self);
}
// ANCHOR_END: close-conn

// ANCHOR: settle
// After any completion: finish the connection once the client has sent EOF and had every
// byte back; otherwise keep a receive armed exactly while we want to read. The same few
// lines arm the first receive, re-arm one the kernel ended (ENOBUFS, a full completion
// queue) and pause or resume one at the water marks.
void settle(Server& server, Conn& c) {
    if (c.peer_done) {
        if (c.pending() > 0) return;
        // Half-close done right: our FIN follows the last echoed byte, then the socket goes.
        ::shutdown(c.fd.get(), SHUT_WR);
        common::trace("shutdown fd %d SHUT_WR", c.fd.get());
        close_conn(server, c);
    } else if (c.reading && !c.recv_armed) {
        arm_recv(server, c);
    } else if (!c.reading && c.recv_armed && !c.recv_cancelling) {
        cancel(server, c, kRecv);  // backpressure: no receive armed until the echo drains
    }
}
// ANCHOR_END: settle

void add_conn(Server& server, int fd) {
    Conn& c = server.conns.emplace_back();
    c.self = std::prev(server.conns.end());
    c.fd = common::Fd(fd);
    settle(server, c);
}

// ANCHOR: on-accept
void on_accept(Server& server, int res, unsigned flags) {
    if (res >= 0) {
        common::trace("accept -> fd %d%s", res, flags & IORING_CQE_F_MORE ? " (more)" : "");
        add_conn(server, res);
    } else {
        trace_completion("accept", -1, res, flags);
    }
    if (flags & IORING_CQE_F_MORE) return;
    // The multishot accept has ended: by a full completion queue, or by a connection that
    // failed before we took it (accept(2)), and the next one may be fine: re-arm it.
    int err = res < 0 ? -res : 0;
    if (err == 0 || err == ECONNABORTED || err == EPROTO || err == EINTR) return arm_accept(server);
    // EMFILE, ENFILE, ENOMEM, ENOBUFS: it failed before taking the connection, so the rest
    // stay queued in the kernel, and re-arming now would fail again at once, in a spin.
    // close_conn() re-arms it when a connection closes and an fd is free.
    if (err != EMFILE && err != ENFILE && err != ENOMEM && err != ENOBUFS)
        common::die("accept", err);  // the listener itself is broken: re-arming would spin
    server.accept_blocked = true;
    common::warn_limited(
        "accept", std::string("accept: ") + std::strerror(err) + "; the rest wait until a connection closes");
}
// ANCHOR_END: on-accept

// ANCHOR: on-readable
void on_readable(Server& server, Conn& c, int res, unsigned flags) {
    if (res == 0)
        common::trace("recv fd %d -> 0 (EOF)", c.fd.get());
    else
        trace_completion("recv", c.fd.get(), res, flags);
    if (!(flags & IORING_CQE_F_MORE)) c.recv_armed = c.recv_cancelling = false;  // it has ended
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (c.closing) {
        if (flags & IORING_CQE_F_BUFFER) give_back(server, bid);
        close_conn(server, c);
        return;
    }
    if (res > 0) {
        echo(server, c, bid, static_cast<std::size_t>(res));
        if (c.reading && c.pending() >= kHighWater) {
            // Backpressure: the client is not reading its echo, so stop receiving its input.
            // Its bytes wait in the kernel and TCP's window stops it from sending more.
            c.reading = false;
            common::trace("pause fd %d (%zu bytes unsent)", c.fd.get(), c.pending());
        }
    } else if (res == 0) {
        c.peer_done = true;
    } else if (res != -ENOBUFS && res != -ECANCELED) {
        close_conn(server, c);  // ECONNRESET
        return;
    }
    // ENOBUFS: the ring was empty when data came. What is not lent goes back this turn, and
    // the ring's tail moves before the re-armed receive is submitted, so it finds buffers.
    settle(server, c);
}
// ANCHOR_END: on-readable

// ANCHOR: on-writable
void on_writable(Server& server, Conn& c, int res) {
    trace_completion("send", c.fd.get(), res, 0);
    if (res >= 0 && !c.closing && static_cast<std::size_t>(res) < c.sending.size()) {
        // A short send: the socket took only part. Send the rest from where it stopped, from
        // our own copy, so that a ring buffer never waits on a slow reader.
        std::string_view rest = c.sending.substr(static_cast<std::size_t>(res));
        if (c.lent >= 0) {
            c.copy.assign(rest);
            return_lent(server, c);
            rest = c.copy;
        }
        send(server, c, rest);
        return;
    }
    c.sending = {};
    return_lent(server, c);
    if (c.closing || res < 0) {  // EPIPE, ECONNRESET; or the completion a close waited for
        close_conn(server, c);
        return;
    }
    if (!c.out.empty())
        send_queued(server, c);
    else
        std::string().swap(c.copy);  // an idle connection holds no buffer
    if (!c.reading && c.pending() <= kLowWater) {
        c.reading = true;
        common::trace("resume fd %d", c.fd.get());
    }
    settle(server, c);
}
// ANCHOR_END: on-writable

// ANCHOR: stop
// Exiting is not enough: the kernel finishes tearing a ring down after the process is gone,
// and until then each request keeps its socket open, the multishot accept its listener: a
// restart on the port would fail with EADDRINUSE. So cancel every request (waiting up to a
// second), then enter once more: with DEFER_TASKRUN the cancelled requests finish, and let
// go of their sockets, only in task work that runs while we are in io_uring_enter.
void stop(Server& server) {
    io_uring_sync_cancel_reg reg{};
    reg.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
    reg.timeout.tv_sec = 1;
    int n = io_uring_register_sync_cancel(&server.ring, &reg);
    trace_completion("stop: cancel every request", -1, n, 0);
    io_uring_get_events(&server.ring);
}
// ANCHOR_END: stop

// ---------------------------------------------------------------- setting up

// ANCHOR: refused
// io_uring is often not there to use: kernels before 6.1 lack what this stage needs, a
// kernel can be told to refuse it (sysctl kernel.io_uring_disabled, since 6.6), and a
// seccomp filter can refuse its system calls, as container runtimes' default profiles do.
// One line says which, and how to check.
[[noreturn]] void refused(int err) {
    utsname host{};
    ::uname(&host);
    int disabled = 0, seccomp = 0;
    std::ifstream("/proc/sys/kernel/io_uring_disabled") >> disabled;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Seccomp:", 0) == 0) seccomp = std::atoi(line.c_str() + 8);
    std::string why = std::string("io_uring_setup: ") + std::strerror(err) + ": ";
    if (err == EINVAL && ::strverscmp(host.release, "6.1") < 0)
        why +=
            "this kernel is " + std::string(host.release) +
            ", and stage05-echo needs 6.1 or later (multishot receive, deferred task work); check: uname -r";
    else if (err == EPERM && disabled != 0)
        why += "sysctl kernel.io_uring_disabled is " + std::to_string(disabled) +
               " (1: root and kernel.io_uring_group only, 2: nobody); check: sysctl kernel.io_uring_disabled";
    else if ((err == EPERM || err == ENOSYS) && seccomp != 0)
        why +=
            "a seccomp filter refuses it, as container runtimes' default profiles do; "
            "check: grep Seccomp /proc/self/status (2 is a filter), and the container's profile";
    else if (err == ENOSYS)
        why += "this kernel has no io_uring (built without CONFIG_IO_URING); check: uname -r";
    else
        why += "check: sysctl kernel.io_uring_disabled, grep Seccomp /proc/self/status";
    common::die("io_uring is unavailable here: " + why, 0);
}

void setup_ring(Server& server) {
    io_uring_params params{};
    // The completion queue is larger than the submission queue: one receive request yields
    // many completions. SINGLE_ISSUER and DEFER_TASKRUN (6.1) let the kernel finish our
    // receives only while we wait in io_uring_enter, not by interrupting us at any moment.
    // (Every kernel that has them has IORING_FEAT_NODROP: a full completion queue loses nothing.)
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                   IORING_SETUP_DEFER_TASKRUN;
    params.cq_entries = kCompletions;
    if (int err = -io_uring_queue_init_params(kQueueDepth, &server.ring, &params)) refused(err);
    // The ring's descriptor registered with the ring itself: each io_uring_enter then skips
    // looking it up in the descriptor table (io_uring_register_ring_fd(3)).
    io_uring_register_ring_fd(&server.ring);
}
// ANCHOR_END: refused

}  // namespace

int main(int argc, char** argv) {
    common::CliSpec spec;
    spec.program = "stage05-echo";
    spec.summary = "Echo server: one thread, io_uring: multishot accept and receive, provided buffers.";
    // LIMITATION: one tcp:// address, used with the descriptor limit it is given; no udp://, unix://,
    // --max-conns or --idle-timeout. Stage 04 adds them (the multiaddr cases and its options).
    common::Cli cli = common::parse_cli(argc, argv, spec);
    common::set_trace(cli.trace);
    common::install_signal_handlers(spec.program.c_str());

    Server server;
    std::string error;
    server.listener = common::listen_on(cli.listen.front(), {}, &error);
    if (!server.listener) common::die(error, 0);
    setup_ring(server);
    setup_buffers(server);
    arm_accept(server);
    // SIGINT and SIGTERM write to the stop pipe; a poll request on it is their completion.
    io_uring_sqe* sqe = get_sqe(server);
    io_uring_prep_poll_add(sqe, common::stop_fd(), POLLIN);
    io_uring_sqe_set_data64(sqe, token(nullptr, kStop));
    common::announce_listening(common::local_url(server.listener.get(), cli.listen.front()));

    // ANCHOR: loop
    for (;;) {
        refill(server);  // before the submit: re-armed receives must find the buffers
        // One system call per turn: it submits every request queued since the last one
        // and waits for at least one completion.
        int submitted = io_uring_submit_and_wait(&server.ring, 1);
        if (submitted < 0) {
            if (submitted == -EINTR) continue;  // a signal, or SIGSTOP/SIGCONT (signal(7))
            common::die("io_uring_enter", -submitted);
        }
        common::trace("io_uring_enter: %d submitted, %u completions", submitted,
                      io_uring_cq_ready(&server.ring));
        unsigned head, seen = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&server.ring, head, cqe) {
            ++seen;
            // NOLINTNEXTLINE(performance-no-int-to-ptr): user_data is a Conn* with the op in its low bits
            auto* c = reinterpret_cast<Conn*>(cqe->user_data & ~kOpMask);
            auto op = static_cast<Op>(cqe->user_data & kOpMask);
            if (op == kStop) {
                stop(server);
                return 0;
            }
            if (op == kAccept)
                on_accept(server, cqe->res, cqe->flags);
            else if (op == kRecv)
                on_readable(server, *c, cqe->res, cqe->flags);
            else if (op == kSend)
                on_writable(server, *c, cqe->res);
            else  // a cancellation's own answer; the request it cancelled completes by itself
                trace_completion("cancel", -1, cqe->res, 0);
        }
        io_uring_cq_advance(&server.ring, seen);
    }
    // ANCHOR_END: loop
}
