// Stage 03: edge-triggered epoll with non-blocking sockets, done right.
//
// Adds: non-blocking sockets registered once, edge-triggered, read until EAGAIN; an output
// buffer per connection, with EPOLLOUT asked for only while it holds bytes; water marks, so a
// client that does not read costs bounded memory; a read budget and a ready list, so a fast
// client cannot starve the others; out of descriptors, neither a spin nor a forgotten queue.
// Lacks: timers, more listeners or threads, reuse (the loop is welded to the echo): stage 04.
//
// Most of the odd code below answers a fault in epoll's design (epoll(7)):
//  * It reports descriptor numbers for open file descriptions: a dup(2) or fork(2) copy keeps
//    events coming for a number we closed (every fd here is close-on-exec), and accept() hands
//    a closed number straight out again: each event carries a generation (nginx: "instance").
//  * Edge-triggered reports changes, not states: bytes left unread (budget spent, output
//    full) are never announced again, so we go back for them from the ready list; an accept()
//    that fails with EMFILE spends the listener's edge, so we retry when a connection closes.
//  * A short read stands for EAGAIN on stream files, says epoll(7); not on TCP, where a read
//    also stops short at an urgent mark (tcp(7)). We read until EAGAIN.
//  * EPOLLERR and EPOLLHUP come unasked; each change of interest is a system call.
//
// Try it: stage03-echo --trace, then `nc 127.0.0.1 5000` in two terminals.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/cli.hpp"
#include "common/epoll_trace.hpp"
#include "common/fd.hpp"
#include "common/listen.hpp"
#include "common/process.hpp"

namespace {

// ANCHOR: constants
constexpr std::size_t kReadSize = 64 * 1024;  // one read(2)
constexpr int kMaxEvents = 256;               // events taken from the kernel per epoll_wait

constexpr int kReadsPerTurn = 4;                 // per connection per turn of the loop: 256 KiB at most
constexpr std::size_t kHighWater = 1024 * 1024;  // unsent bytes at which we stop reading...
constexpr std::size_t kLowWater = 256 * 1024;    // ...and below which we read again
// ANCHOR_END: constants

// ANCHOR: conn
struct Conn {
    common::Fd fd;
    std::uint32_t gen = 0;  // tells this connection from earlier ones with the same fd
    std::string out;        // read but not yet written back; out[0, sent) is done
    std::size_t sent = 0;
    bool reading = true;     // false while the output is above the high-water mark
    bool peer_done = false;  // read() returned 0: the client sends nothing more
    bool want_out = false;   // EPOLLOUT is in the registered interest
    bool queued = false;     // on the ready list
    std::size_t pending() const { return out.size() - sent; }
};

struct Server {
    common::Fd epoll;
    common::Fd listener;
    std::vector<std::unique_ptr<Conn>> conns;  // by fd
    std::uint32_t next_gen = 1;                // 0 marks the listener and the stop pipe
    std::vector<std::uint64_t> ready;          // connections to read with no event to say so
    bool accept_blocked = false;               // accept() ran out of fds; clients wait queued
    bool accept_retry = false;                 // ...and an fd has been freed since
};
// ANCHOR_END: conn

// ANCHOR: token
// What epoll hands back with each event: the fd in the low half, the generation in the high.
std::uint64_t token(int fd, std::uint32_t gen) {
    return (std::uint64_t{gen} << 32) | static_cast<std::uint32_t>(fd);
}

// The connection a token names, or nullptr if it has closed since, even if a newer one has its fd.
Conn* find(Server& server, std::uint64_t tok) {
    auto fd = static_cast<std::size_t>(tok & 0xffffffffu);
    if (fd >= server.conns.size() || !server.conns[fd]) return nullptr;
    Conn* c = server.conns[fd].get();
    return c->gen == static_cast<std::uint32_t>(tok >> 32) ? c : nullptr;
}
// ANCHOR_END: token

// ADD or MOD `fd` with `events`; epoll hands `tok` back with each of its events.
bool watch(Server& server, int op, int fd, std::uint32_t events, std::uint64_t tok) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tok;
    return epoll_ctl(server.epoll.get(), op, fd, &ev) == 0;
}

// ANCHOR: interest
// EPOLLOUT only while output is pending. Edge-triggered, a permanent one would not spin (nginx
// registers it once for good) but would send every event to on_writable for nothing.
void set_interest(Server& server, Conn& c, bool want_out) {
    if (c.want_out == want_out) return;
    std::uint32_t events = EPOLLIN | EPOLLET | (want_out ? EPOLLOUT : 0u);
    if (!watch(server, EPOLL_CTL_MOD, c.fd.get(), events, token(c.fd.get(), c.gen)))
        common::die("epoll_ctl", errno);
    c.want_out = want_out;
    common::trace("epoll_ctl fd %d MOD %s", c.fd.get(), common::event_names(events).c_str());
}
// ANCHOR_END: interest

void mark_ready(Server& server, Conn& c) {
    if (c.queued) return;
    c.queued = true;
    server.ready.push_back(token(c.fd.get(), c.gen));
    common::trace("ready fd %d", c.fd.get());
}

// Writes until done or until the socket's buffer is full: the bytes written, or -1 if the client is gone.
ssize_t write_until_eagain(int fd, const char* data, std::size_t len) {
    std::size_t done = 0;
    while (done < len) {
        ssize_t n = ::write(fd, data + done, len - done);
        if (n < 0) {
            common::trace("write fd %d -> %s", fd, common::errno_name(errno));
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // EPOLLOUT will tell us when
            return -1;                                           // EPIPE, ECONNRESET
        }
        common::trace("write fd %d -> %zd", fd, n);
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

// ANCHOR: echo
// Sends data back: straight to the socket while nothing is queued ahead of it (the common
// case copies nothing), and whatever the socket does not take into the output buffer.
bool echo(Conn& c, const char* data, std::size_t len) {
    ssize_t n = c.pending() == 0 ? write_until_eagain(c.fd.get(), data, len) : 0;
    if (n < 0) return false;
    c.out.append(data + n, len - static_cast<std::size_t>(n));
    return true;
}
// ANCHOR_END: echo

// ---------------------------------------------------------------- handlers

void close_conn(Server& server, Conn& c) {
    int fd = c.fd.get();
    common::trace("close fd %d", fd);
    // accept() may be waiting for a free fd: this is one. Retried once the batch is done.
    if (server.accept_blocked) server.accept_retry = true;
    // close(2) also takes the socket out of the epoll set: nothing else holds it (epoll(7)).
    server.conns[static_cast<std::size_t>(fd)].reset();
}

// ANCHOR: settle
// After any I/O: finish the connection once the client has sent EOF and had every byte
// back, otherwise keep EPOLLOUT in step with the output buffer.
void settle(Server& server, Conn& c) {
    if (c.peer_done && c.pending() == 0) {
        // Half-close done right: our FIN follows the last echoed byte, then the socket goes.
        ::shutdown(c.fd.get(), SHUT_WR);
        common::trace("shutdown fd %d SHUT_WR", c.fd.get());
        close_conn(server, c);
        return;
    }
    set_interest(server, c, c.pending() > 0);
}
// ANCHOR_END: settle

void add_conn(Server& server, int fd) {
    auto c = std::make_unique<Conn>();
    c->fd = common::Fd(fd);
    c->gen = server.next_gen++;  // after 2^32 connections 0 comes round: harmless, fds differ
    // ADD looks at the socket as it is, so bytes that arrived before it are announced too.
    if (!watch(server, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLET, token(fd, c->gen))) {
        common::warn_limited("epoll_ctl", std::string("epoll_ctl: ") + std::strerror(errno));
        return;  // c closes the fd
    }
    if (server.conns.size() <= static_cast<std::size_t>(fd)) server.conns.resize(fd + 1);
    server.conns[static_cast<std::size_t>(fd)] = std::move(c);
}

// ANCHOR: on-accept
void on_accept(Server& server) {
    server.accept_blocked = false;
    // One edge stands for every connection queued so far: accept until EAGAIN.
    for (;;) {
        int fd = ::accept4(server.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            common::trace("accept -> fd %d", fd);
            add_conn(server, fd);
            continue;
        }
        int err = errno;
        common::trace("accept -> %s", common::errno_name(err));
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        // The connection failed before we took it; the next one may be fine (accept(2)).
        if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
        // EMFILE, ENFILE, ENOBUFS, ENOMEM. The rest stay queued, but this edge is spent: no event
        // comes for them, only for a newer connection, so the next close_conn() asks for a retry.
        // (libuv and muduo free a spare fd to accept and close the whole queue: nobody waits, or is served.)
        server.accept_blocked = true;
        common::warn_limited("accept", std::string("accept: ") + std::strerror(err) +
                                           "; the rest wait until a connection closes");
        return;
    }
}
// ANCHOR_END: on-accept

// ANCHOR: on-readable
void on_readable(Server& server, Conn& c) {
    char buf[kReadSize];
    for (int reads = 0; c.reading && !c.peer_done; ++reads) {
        if (reads == kReadsPerTurn) {
            // Others get their turn first. More may be waiting, and no edge will say so.
            mark_ready(server, c);
            break;
        }
        ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
        if (n < 0) {
            common::trace("read fd %d -> %s", c.fd.get(), common::errno_name(errno));
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // drained: the next edge will come
            close_conn(server, c);                               // ECONNRESET
            return;
        }
        common::trace("read fd %d -> %zd%s", c.fd.get(), n, n == 0 ? " (EOF)" : "");
        if (n == 0) {
            c.peer_done = true;
            break;
        }
        if (!echo(c, buf, static_cast<std::size_t>(n))) {
            close_conn(server, c);
            return;
        }
        if (c.pending() >= kHighWater) {
            // Backpressure: the client is not reading its echo, so stop reading its input.
            // Its bytes wait in the kernel and TCP's window stops it from sending more.
            c.reading = false;
            common::trace("pause fd %d (%zu bytes unsent)", c.fd.get(), c.pending());
        }
    }
    settle(server, c);
}
// ANCHOR_END: on-readable

// ANCHOR: on-writable
void on_writable(Server& server, Conn& c) {
    ssize_t n = write_until_eagain(c.fd.get(), c.out.data() + c.sent, c.pending());
    if (n < 0) {
        close_conn(server, c);
        return;
    }
    c.sent += static_cast<std::size_t>(n);
    if (c.pending() == 0) {
        std::string().swap(c.out);  // an idle connection holds no buffer
        c.sent = 0;
    } else if (c.sent >= c.out.size() / 2) {
        c.out.erase(0, c.sent);  // compacting only past half keeps the copying linear
        c.sent = 0;
    }
    if (!c.reading && c.pending() <= kLowWater) {
        // Backpressure off. What the client sent meanwhile sits in the socket and its edge
        // is long gone, so go and read it rather than wait for an event.
        c.reading = true;
        common::trace("resume fd %d", c.fd.get());
        mark_ready(server, c);
    }
    settle(server, c);
}
// ANCHOR_END: on-writable

// ANCHOR: ready-list
// Connections that may have input waiting with no edge to announce it (budget spent, or
// reading resumed): each gets another budget's worth, after the fresh events had theirs.
void run_ready(Server& server) {
    for (std::uint64_t tok : std::exchange(server.ready, {})) {  // reading may queue some again
        Conn* c = find(server, tok);
        if (!c) continue;  // closed since it was queued; its fd may be a newer connection's
        c->queued = false;
        on_readable(server, *c);
    }
}
// ANCHOR_END: ready-list

}  // namespace

int main(int argc, char** argv) {
    common::CliSpec spec;
    spec.program = "stage03-echo";
    spec.summary = "Echo server: one thread, edge-triggered epoll, non-blocking sockets.";
    // LIMITATION: one tcp:// address, used with the descriptor limit it is given; no udp://, unix://,
    // --max-conns or --idle-timeout. Stage 04 adds them (the multiaddr cases and its options).
    common::Cli cli = common::parse_cli(argc, argv, spec);
    common::set_trace(cli.trace);
    common::install_signal_handlers(spec.program.c_str());

    Server server;
    std::string error;
    server.listener = common::listen_on(cli.listen.front(), {.nonblocking = true}, &error);
    if (!server.listener) common::die(error, 0);
    server.epoll = common::Fd(epoll_create1(EPOLL_CLOEXEC));
    if (!server.epoll) common::die("epoll_create1", errno);
    for (int fd : {server.listener.get(), common::stop_fd()})  // SIGINT, SIGTERM arrive as events
        if (!watch(server, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLET, token(fd, 0)))
            common::die("epoll_ctl", errno);
    common::announce_listening(common::local_url(server.listener.get(), cli.listen.front()));

    // ANCHOR: loop
    epoll_event events[kMaxEvents];
    for (;;) {
        // Work owed with no edge to announce it: look for new events, but do not wait.
        int n = epoll_wait(server.epoll.get(), events, kMaxEvents, server.ready.empty() ? -1 : 0);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal, or SIGSTOP/SIGCONT (signal(7))
            common::die("epoll_wait", errno);
        }
        common::trace_batch(events, n);
        for (int i = 0; i < n; ++i) {
            std::uint64_t tok = events[i].data.u64;
            std::uint32_t ev = events[i].events;
            if (tok == token(common::stop_fd(), 0)) return 0;  // the connections close as `server` goes
            if (tok == token(server.listener.get(), 0)) {
                on_accept(server);
                continue;
            }
            Conn* c = find(server, tok);
            if (!c) {
                common::trace("fd %u: stale event dropped", static_cast<unsigned>(tok & 0xffffffffu));
                continue;
            }
            if (ev & EPOLLERR) {
                close_conn(server, *c);  // reset: nothing can be sent back any more
                continue;
            }
            // Already on the ready list: it gets its turn there, like everybody else (epoll(7)).
            if ((ev & (EPOLLIN | EPOLLHUP)) && !c->queued) on_readable(server, *c);
            // on_readable may have closed c: ask again rather than trust the pointer.
            if ((ev & EPOLLOUT) && (c = find(server, tok))) on_writable(server, *c);
        }
        run_ready(server);
        if (server.accept_retry) {
            server.accept_retry = false;
            on_accept(server);
        }
    }
    // ANCHOR_END: loop
}
