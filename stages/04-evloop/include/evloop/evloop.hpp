// evloop: an event-loop networking library in the style of Go's evio, in C++20.
//
// You describe a server as a set of callbacks (Events), hand it addresses, and call
// Server::serve(). The library binds the addresses, runs one or more loops (each
// on its own thread, loop 0 on the caller's), accepts connections, reads, calls you,
// writes what you wrote, and closes. Callbacks run on the connection's loop thread,
// one at a time per loop, so a connection's state needs no locks.
//
//   evloop::Events ev;
//   ev.data = [](evloop::Conn c, std::string_view in) { c.write(in); return evloop::Action::none; };
//   evloop::Server server(ev, {.loops = 4});
//   auto err = server.serve({"tcp://127.0.0.1:5000", "udp://[::1]:5000", "unix:///tmp/echo.sock"});
//
// Errors are values: nothing on the loop path throws, and a failing connection
// closes only itself. Handle (below) is the only way in from other threads.
#pragma once

#include <sys/socket.h>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <evloop/version.hpp>  // also EVLOOP_EXPORT

namespace evloop {

using Duration = std::chrono::nanoseconds;

// What to do once a callback returns.
enum class Action {
    none,      // carry on
    close,     // flush pending output, then close the connection
    detach,    // flush pending output, then hand the socket to Events::detached
    shutdown,  // stop the whole server gracefully (Server::stop)
};

enum class Backend { best, epoll, kqueue, poll };
enum class Balance { round_robin, random, least_connections };

// A socket address plus its URL ("tcp://127.0.0.1:5000", "unix:///tmp/e.sock").
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::string url;
};

struct Error {
    int code = 0;         // an errno value, 0 for success
    std::string message;  // one line, e.g. "cannot listen on tcp://127.0.0.1:80: Permission denied"
    explicit operator bool() const { return code != 0; }
};

namespace detail {
class Connection;
class Mailbox;
}  // namespace detail

// Per-connection settings, filled in by Events::opened.
struct ConnOptions {
    std::chrono::seconds tcp_keepalive{0};  // SO_KEEPALIVE with this idle time; 0 leaves it off
    bool tcp_nodelay = true;                // echo-style protocols want replies sent at once
    // true: `in` points into the loop's shared read buffer, valid only during the call.
    // false: `in` is this connection's own copy, valid until its next data event.
    bool reuse_input_buffer = false;
};

class Conn;

// A thread-safe reference to a connection. Copy it anywhere; every call is posted to
// the connection's loop and runs there in the order posted, after output already
// queued. A handle whose connection has closed reaches nobody, even when the fd number
// has since been reused: each connection has its own generation number.
// Each call returns false only when the loop is gone; delivery to a live
// connection is not confirmed.
class EVLOOP_EXPORT Handle {
public:
    Handle() = default;
    bool wake() const;                             // a data event with empty input
    bool write(std::string bytes) const;           // append to the output, in order
    bool close() const;                            // as Action::close
    bool run(std::function<void(Conn)> fn) const;  // fn(conn) on the connection's loop
    explicit operator bool() const { return mailbox_ != nullptr; }
    std::uint64_t generation() const { return generation_; }

private:
    friend class Conn;
    std::shared_ptr<detail::Mailbox> mailbox_;
    int fd_ = -1;
    std::uint64_t generation_ = 0;
};

// The connection an event is about. A cheap view, valid only inside the callback that
// received it and only on that loop's thread; use handle() to reach it later.
class EVLOOP_EXPORT Conn {
public:
    // Appends to the pending output; the library writes it when the callback returns.
    // For UDP, everything written during one data event leaves as one datagram.
    void write(std::string_view bytes);
    void close();  // as returning Action::close

    std::any& context();     // yours: anything, kept for the connection's life
    int addr_index() const;  // which address passed to serve() it came from
    int loop_index() const;  // which loop serves it
    bool is_udp() const;     // UDP: one Conn per datagram, no handle, no timers
    int fd() const;          // for socket options only; in `closed`, the number it had
    const SocketAddress& local_addr() const;
    const SocketAddress& remote_addr() const;
    std::size_t pending_output() const;  // bytes written but not yet accepted by the kernel
    Handle handle() const;

    // A one-shot timer on this connection's loop; it does not fire once the connection is
    // gone. Returns an id for cancel_timer().
    std::uint64_t after(Duration delay, std::function<void(Conn)> fn);
    void cancel_timer(std::uint64_t id);

    explicit Conn(detail::Connection* c) : c_(c) {}

private:
    detail::Connection* c_;
};

// Facts given to Events::serving once every address is bound.
struct ServerInfo {
    std::vector<std::string> addrs;  // the real URLs (port 0 replaced), in serve() order
    int loops = 1;
};

// Every callback is optional. All run on loop threads; tick and serving on loop 0.
struct Events {
    // Once, before any connection, with the bound addresses.
    std::function<Action(const ServerInfo&)> serving;
    // A stream connection was accepted. Write a greeting with c.write(), set options.
    std::function<Action(Conn c, ConnOptions& options)> opened;
    // Exactly once per opened connection that was not detached; error is an errno
    // value (0 for an orderly close, ETIMEDOUT for an idle or flush timeout).
    std::function<void(Conn c, int error)> closed;
    // The socket, now blocking and yours to use and close, after output was flushed.
    // Without this callback, Action::detach closes instead.
    std::function<void(Conn c, int fd)> detached;
    // Bytes arrived (or a wake, with empty `in`; for UDP, possibly an empty datagram).
    std::function<Action(Conn c, std::string_view in)> data;
    // Right after start, then again after `delay` (set it; it defaults to one second).
    std::function<Action(Duration& delay)> tick;
    // Just before each write attempt of `amount` bytes.
    std::function<void(Conn c, std::size_t amount)> pre_write;

    // The peer finished sending (read returned 0): the half-close. Reading stops; writing
    // goes on. Reply with c.write(), here or later (a timer, a Handle), and end with
    // Action::close (or c.close(), Handle::close): the library flushes, shuts down its
    // write side and closes. Options::close_timeout bounds the half-closed state. Without
    // this callback the library ends it at once: flush, FIN, close.
    std::function<Action(Conn c)> eof;
    // Pending output fell below Options::low_water (after being at or above it).
    std::function<void(Conn c)> drained;
    // Pending output became empty.
    std::function<void(Conn c)> flushed;
};

struct Options {
    int loops = 1;  // -1: one per CPU
    Balance balance = Balance::round_robin;
    Backend backend = Backend::best;
    std::size_t max_conns = 0;  // over the cap a connection is accepted and closed at once; 0: none
    Duration idle_timeout{0};   // close a connection silent this long in both directions; 0: never
    Duration close_timeout = std::chrono::seconds(30);  // bound on flushing a closing/half-closed conn
    Duration stop_timeout = std::chrono::seconds(1);    // bound on draining output at stop
    std::size_t high_water = 1 << 20;                   // pause reading while pending output is above this
    std::size_t low_water = 256 << 10;                  // resume reading (and fire drained) below this
    std::size_t max_output = 0;  // close a connection whose pending output exceeds this; 0: none
    bool trace = false;          // one stderr line per readiness event and syscall result
};

class EVLOOP_EXPORT Server {
public:
    explicit Server(Events events, Options options = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every address (all or nothing), fires serving, and runs the loops until
    // stop() or Action::shutdown. Returns the setup error, if any. Call once.
    Error serve(const std::vector<std::string>& urls);
    // From any thread, also before serve() has bound anything: stop accepting, let
    // pending output drain for up to Options::stop_timeout, close everything, return.
    void stop();

private:
    struct EVLOOP_NO_EXPORT Impl;  // the internals stay out of a shared library's exports
    std::unique_ptr<Impl> impl_;
};

// Convenience: Server(events, options).serve(urls).
EVLOOP_EXPORT Error serve(Events events, const std::vector<std::string>& urls, Options options = {});

// Backends compiled into this build, best first; "epoll", "kqueue" or "poll".
EVLOOP_EXPORT std::vector<Backend> available_backends();
EVLOOP_EXPORT const char* backend_name(Backend backend);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit
// (or the old one, unchanged, if raising failed).
EVLOOP_EXPORT long raise_fd_limit();

}  // namespace evloop
