// Stage 01: the blocking echo server, one client at a time.
//
// Adds: the socket calls in their plainest order. Accept a client, read what it sends and
// write it back until it hangs up, then accept the next. Every call blocks until the kernel
// has something for it, so the code reads like the protocol itself.
// Lacks: while one client is connected nobody else is served. A second client's connect
// succeeds (the kernel completes the handshake and queues it, listen(2)), but its bytes wait
// until the first client leaves. Stage 02 waits on every socket at once with epoll.
//
// Try it: stage01-echo --trace, then `nc 127.0.0.1 5000` in two terminals.

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/listen.hpp"
#include "common/process.hpp"

namespace {

constexpr std::size_t kReadSize = 64 * 1024;  // one read(2)

constexpr useconds_t kAcceptRetryUs = 100'000;  // pause after accept fails for want of resources

// ANCHOR: conn
struct Conn {
    common::Fd fd;
};

struct Server {
    common::Fd listener;
    Conn conn;  // the one client being served; empty while waiting in accept
};
// ANCHOR_END: conn

// ANCHOR: write-all
// Writes everything, blocking as long as the client takes to read it. A signal that lands
// after some bytes went out does not fail the write: it returns a short count (write(2),
// signal(7)). So a stop request is looked for after every short write as well as on EINTR;
// otherwise SIGTERM would only send us back to block on a client that never reads.
bool write_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
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

void close_conn(Server& server) {
    common::trace("close fd %d", server.conn.fd.get());
    server.conn.fd.reset();
}

// ANCHOR: on-accept
void on_accept(Server& server) {
    // Blocks until a client has connected. The handshake itself was done by the kernel,
    // which queues completed connections on the listener until we take them (listen(2)).
    int fd = ::accept4(server.listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        common::trace("accept -> %s", common::errno_name(err));
        // EINTR (a signal: the loop checks for a stop request), ECONNABORTED (the client gave
        // up while queued): just try again. Out of descriptors or memory, the client stays
        // queued and accept fails again at once, so retrying at once would spin. Holding no
        // client we have nothing to close, so pause instead (a signal cuts it short, usleep(3)).
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
            common::warn_limited("accept", std::string("accept: ") + std::strerror(err) + "; retrying");
            ::usleep(kAcceptRetryUs);
        }
        return;
    }
    common::trace("accept -> fd %d", fd);
    server.conn.fd = common::Fd(fd);
}
// ANCHOR_END: on-accept

// ANCHOR: on-readable
void on_readable(Server& server) {
    int fd = server.conn.fd.get();
    char buf[kReadSize];
    // LIMITATION: read blocks until this one client sends; every other client waits in the listen queue.
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
        common::trace("read fd %d -> %s", fd, common::errno_name(errno));
        // EINTR: a handler ran (ours, for SIGINT and SIGTERM, have no SA_RESTART): stop if asked to.
        if (errno == EINTR && !common::stop_requested()) return;
        close_conn(server);  // ECONNRESET, or a stop request
        return;
    }
    common::trace("read fd %d -> %zd%s", fd, n, n == 0 ? " (EOF)" : "");
    // On EOF everything read so far has already been written back, so closing now is a
    // complete answer to a client that half-closed.
    if (n == 0 || !write_all(fd, buf, static_cast<std::size_t>(n))) close_conn(server);
}
// ANCHOR_END: on-readable

}  // namespace

int main(int argc, char** argv) {
    common::CliSpec spec;
    spec.program = "stage01-echo";
    spec.summary = "Echo server: blocking calls, one client at a time.";
    // LIMITATION: one tcp:// address, used with the descriptor limit it is given; no udp://, unix://,
    // --max-conns or --idle-timeout. Stage 04 adds them (the multiaddr cases and its options).
    common::Cli cli = common::parse_cli(argc, argv, spec);
    common::set_trace(cli.trace);
    common::install_signal_handlers(spec.program.c_str());

    Server server;
    std::string error;
    server.listener = common::listen_on(cli.listen.front(), {}, &error);
    if (!server.listener) common::die(error, 0);
    common::announce_listening(common::local_url(server.listener.get(), cli.listen.front()));

    // ANCHOR: loop
    // SIGINT and SIGTERM interrupt the blocked accept or read with EINTR (the handlers are
    // installed without SA_RESTART), which brings us back here to notice the request. A
    // signal that lands just before the call is only seen once that call returns: closing
    // that gap needs a wait on several things at once, which is stage 02's subject.
    while (!common::stop_requested()) {
        if (!server.conn.fd)
            on_accept(server);
        else
            // LIMITATION: the next client is not accepted until this one hangs up.
            on_readable(server);
    }
    // ANCHOR_END: loop
    return 0;  // the connection and the listener close as `server` goes
}
