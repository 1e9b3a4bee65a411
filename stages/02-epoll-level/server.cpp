// Stage 02: many clients on one thread, with level-triggered epoll.
//
// Adds: one epoll set holding the listener and every connection, so the server waits for
// whichever socket is ready instead of for one client. Level-triggered epoll is a faster
// poll(2): a socket is reported on every epoll_wait for as long as it stays readable, so
// reading once per report loses nothing (epoll(7), "Level-triggered and edge-triggered").
// Lacks: the connection sockets stay blocking and each echo is written back with a blocking
// loop, so one client that stops reading stalls every other client; and a listener that
// cannot accept (out of file descriptors) stays readable, so the loop spins. Stage 03 makes
// every socket non-blocking, buffers output per connection and switches to edge-triggered.
//
// Try it: stage02-echo --trace, then `nc 127.0.0.1 5000` in two terminals.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
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
// ANCHOR_END: constants

// ANCHOR: conn
struct Conn {
    common::Fd fd;
};

struct Server {
    common::Fd epoll;
    common::Fd listener;
    std::vector<std::unique_ptr<Conn>> conns;  // by fd
};
// ANCHOR_END: conn

// ANCHOR: token
// What epoll hands back with each event (its 64 bits of data, ours to choose): the fd.
std::uint64_t token(int fd) {
    return static_cast<std::uint32_t>(fd);
}

// The connection a token names, or nullptr.
Conn* find(Server& server, std::uint64_t tok) {
    auto fd = static_cast<std::size_t>(tok & 0xffffffffu);
    if (fd >= server.conns.size() || !server.conns[fd]) return nullptr;
    return server.conns[fd].get();
}
// ANCHOR_END: token

// ADD or MOD `fd` with `events`; epoll hands `tok` back with each of its events.
bool watch(Server& server, int op, int fd, std::uint32_t events, std::uint64_t tok) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tok;
    return epoll_ctl(server.epoll.get(), op, fd, &ev) == 0;
}

// ANCHOR: write-all
// Writes everything, blocking as long as the client takes to read it. A signal that lands
// after some bytes went out does not fail the write: it returns a short count (write(2),
// signal(7)). So a stop request is looked for after every short write as well as on EINTR;
// otherwise SIGTERM would only send us back to block on a client that never reads.
bool write_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
        // LIMITATION: a blocking write waits for this client to read; every other client waits too.
        ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            common::trace("write fd %d -> %s", fd, common::errno_name(errno));
            if (errno == EINTR && !common::stop_requested()) continue;
            return false;  // EPIPE or ECONNRESET: the client is gone (SIGPIPE is ignored)
        }
        common::trace("write fd %d -> %zd", fd, n);
        data += n;
        len -= static_cast<std::size_t>(n);
        if (len > 0 && common::stop_requested()) return false;
    }
    return true;
}
// ANCHOR_END: write-all

// ---------------------------------------------------------------- handlers

void close_conn(Server& server, Conn& c) {
    int fd = c.fd.get();
    common::trace("close fd %d", fd);
    // close(2) also takes the socket out of the epoll set: nothing else holds it (epoll(7)).
    server.conns[static_cast<std::size_t>(fd)].reset();
}

void add_conn(Server& server, int fd) {
    auto c = std::make_unique<Conn>();
    c->fd = common::Fd(fd);
    // Level-triggered: the default when EPOLLET is absent.
    if (!watch(server, EPOLL_CTL_ADD, fd, EPOLLIN, token(fd))) {
        common::warn_limited("epoll_ctl", std::string("epoll_ctl: ") + std::strerror(errno));
        return;  // c closes the fd
    }
    if (server.conns.size() <= static_cast<std::size_t>(fd)) server.conns.resize(fd + 1);
    server.conns[static_cast<std::size_t>(fd)] = std::move(c);
}

// ANCHOR: on-accept
void on_accept(Server& server) {
    // One accept per report: if more connections wait, the level-triggered listener is
    // reported again by the next epoll_wait. The listener is non-blocking because a
    // connection can vanish between the report and the accept (accept(2), NOTES).
    int fd = ::accept4(server.listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        common::trace("accept -> %s", common::errno_name(err));
        if (err == EMFILE || err == ENFILE)
            // LIMITATION: out of fds the listener stays readable, so epoll_wait returns at once, forever.
            common::warn_limited("accept", std::string("accept: ") + std::strerror(err));
        return;  // EAGAIN, EINTR, ECONNABORTED: nothing to do until the next report
    }
    common::trace("accept -> fd %d", fd);
    add_conn(server, fd);
}
// ANCHOR_END: on-accept

// ANCHOR: on-readable
void on_readable(Server& server, Conn& c) {
    char buf[kReadSize];
    // The socket is blocking, but epoll just said it is readable, so this read returns at once.
    ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
    if (n < 0) {
        common::trace("read fd %d -> %s", c.fd.get(), common::errno_name(errno));
        if (errno == EINTR) return;  // still readable: reported again
        close_conn(server, c);       // ECONNRESET
        return;
    }
    common::trace("read fd %d -> %zd%s", c.fd.get(), n, n == 0 ? " (EOF)" : "");
    // On EOF everything read so far has already been written back, so closing now is a
    // complete answer to a client that half-closed.
    if (n == 0 || !write_all(c.fd.get(), buf, static_cast<std::size_t>(n))) close_conn(server, c);
}
// ANCHOR_END: on-readable

}  // namespace

int main(int argc, char** argv) {
    common::CliSpec spec;
    spec.program = "stage02-echo";
    spec.summary = "Echo server: one thread, level-triggered epoll, blocking writes.";
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
        if (!watch(server, EPOLL_CTL_ADD, fd, EPOLLIN, token(fd))) common::die("epoll_ctl", errno);
    common::announce_listening(common::local_url(server.listener.get(), cli.listen.front()));

    // ANCHOR: loop
    epoll_event events[kMaxEvents];
    for (;;) {
        int n = epoll_wait(server.epoll.get(), events, kMaxEvents, -1);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal, or SIGSTOP/SIGCONT (signal(7))
            common::die("epoll_wait", errno);
        }
        common::trace_batch(events, n);
        for (int i = 0; i < n; ++i) {
            std::uint64_t tok = events[i].data.u64;
            if (tok == token(common::stop_fd())) return 0;  // the connections close as `server` goes
            if (tok == token(server.listener.get())) {
                on_accept(server);
                continue;
            }
            // ERR and HUP are reported whether asked for or not; the read then returns the
            // error or EOF, so they need no handler of their own.
            if (Conn* c = find(server, tok)) on_readable(server, *c);
        }
    }
    // ANCHOR_END: loop
}
