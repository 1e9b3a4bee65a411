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
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/listen.hpp"
#include "common/process.hpp"

namespace {

constexpr std::size_t kReadSize = 16 * 1024;  // at most this much per readiness report
constexpr int kMaxEvents = 64;                // events taken from the kernel per epoll_wait

// ANCHOR: conn
struct Conn {
    common::Fd fd;
};

struct Server {
    common::Fd epoll;
    common::Fd listener;
    std::unordered_map<int, Conn> conns;  // by fd
};
// ANCHOR_END: conn

// "IN|HUP", for --trace.
std::string event_names(std::uint32_t events) {
    static constexpr std::pair<std::uint32_t, const char*> kNames[] = {
        {EPOLLIN, "IN"},   {EPOLLOUT, "OUT"}, {EPOLLRDHUP, "RDHUP"},
        {EPOLLPRI, "PRI"}, {EPOLLERR, "ERR"}, {EPOLLHUP, "HUP"}};
    std::string names;
    for (auto [bit, name] : kNames) {
        if (!(events & bit)) continue;
        if (!names.empty()) names += '|';
        names += name;
    }
    return names;
}

// One line per epoll_wait return. Written directly: a big batch outgrows trace()'s line.
void trace_batch(const epoll_event* events, int n) {
    if (!common::tracing()) return;
    std::string line = "epoll_wait -> " + std::to_string(n) + (n == 1 ? " event:" : " events:");
    for (int i = 0; i < n; ++i)
        line += " fd " + std::to_string(events[i].data.fd) + " " + event_names(events[i].events) + ",";
    line.back() = '\n';
    std::fputs(line.c_str(), stderr);
}

const char* errno_name(int err) {
    const char* name = strerrorname_np(err);
    return name ? name : "?";
}

void watch(Server& server, int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: the default when EPOLLET is absent
    ev.data.fd = fd;
    if (epoll_ctl(server.epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) common::die("epoll_ctl", errno);
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
            common::trace("write fd %d -> %s", fd, errno_name(errno));
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

void close_conn(Server& server, int fd) {
    common::trace("close fd %d", fd);
    // close(2) also removes the socket from the epoll set: nothing else holds it (epoll(7)).
    server.conns.erase(fd);
}

// ANCHOR: on-accept
void on_accept(Server& server) {
    // One accept per report: if more connections wait, the level-triggered listener is
    // reported again by the next epoll_wait. The listener is non-blocking because a
    // connection can vanish between the report and the accept (accept(2), NOTES).
    int fd = ::accept4(server.listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
        common::trace("accept -> %s", errno_name(errno));
        if (errno == EMFILE || errno == ENFILE)
            // LIMITATION: out of fds the listener stays readable, so epoll_wait returns at once, forever.
            common::warn_limited("accept", std::string("accept: ") + std::strerror(errno));
        return;  // EAGAIN, EINTR, ECONNABORTED: nothing to do until the next report
    }
    common::trace("accept -> fd %d", fd);
    server.conns.emplace(fd, Conn{common::Fd(fd)});
    watch(server, fd);
}
// ANCHOR_END: on-accept

// ANCHOR: on-readable
void on_readable(Server& server, int fd) {
    char buf[kReadSize];
    // The socket is blocking, but epoll just said it is readable, so this read returns at once.
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
        common::trace("read fd %d -> %s", fd, errno_name(errno));
        if (errno == EINTR) return;  // still readable: reported again
        close_conn(server, fd);      // ECONNRESET
        return;
    }
    common::trace("read fd %d -> %zd%s", fd, n, n == 0 ? " (EOF)" : "");
    // On EOF everything read so far has already been written back, so closing now is a
    // complete answer to a client that half-closed.
    if (n == 0 || !write_all(fd, buf, static_cast<std::size_t>(n))) close_conn(server, fd);
}
// ANCHOR_END: on-readable

}  // namespace

int main(int argc, char** argv) {
    common::CliSpec spec;
    spec.program = "stage02-echo";
    spec.summary = "Echo server: one thread, level-triggered epoll, blocking writes.";
    // LIMITATION: one tcp:// address, used with the descriptor limit it is given; no udp://,
    // unix://, --max-conns or --idle-timeout. Stage 04 adds them (the multiaddr cases and
    // the stage 04 options in the other tiers).
    common::Cli cli = common::parse_cli(argc, argv, spec);
    common::set_trace(cli.trace);
    common::install_signal_handlers(spec.program.c_str());

    Server server;
    std::string error;
    server.listener = common::listen_on(cli.listen.front(), {.nonblocking = true}, &error);
    if (!server.listener) common::die(error, 0);
    server.epoll = common::Fd(epoll_create1(EPOLL_CLOEXEC));
    if (!server.epoll) common::die("epoll_create1", errno);
    watch(server, server.listener.get());
    watch(server, common::stop_fd());  // SIGINT and SIGTERM arrive as an event like any other
    common::announce_listening(common::local_url(server.listener.get(), cli.listen.front()));

    // ANCHOR: loop
    epoll_event events[kMaxEvents];
    for (;;) {
        int n = epoll_wait(server.epoll.get(), events, kMaxEvents, -1);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal, or SIGSTOP/SIGCONT (signal(7))
            common::die("epoll_wait", errno);
        }
        trace_batch(events, n);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == common::stop_fd()) return 0;  // the connections close as `server` goes
            if (fd == server.listener.get())
                on_accept(server);
            else if (server.conns.count(fd))
                // ERR and HUP are reported whether asked for or not; the read then
                // returns the error or EOF, so they need no handler of their own.
                on_readable(server, fd);
        }
    }
    // ANCHOR_END: loop
}
