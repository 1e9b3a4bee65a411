// evloop: an event-loop networking library in the style of Go's evio.
//
// You describe a server as a set of callbacks (Events), hand it addresses, and call
// Server::serve(). The library binds the addresses, runs one or more loops (each on its
// own thread, loop 0 on the caller's), accepts (or dials) connections, reads, calls you,
// writes what you wrote, and closes. Callbacks run on the connection's loop thread, one
// at a time per loop, so a connection's state needs no locks.
//
//   evloop::Events ev;
//   ev.data = [](evloop::Conn c, std::string_view in) { c.write(in); return evloop::Action::none; };
//   evloop::Server server(ev, {});
//   auto err = server.serve({"tcp://127.0.0.1:5000", "udp://[::1]:5000", "unix:///tmp/echo.sock"});
//
// Input the application leaves unconsumed. A data event presents everything received and
// not yet consumed; by default the callback consumes all of it. A protocol whose messages
// can span reads consumes whole messages and keeps the rest with Conn::keep(n): those n
// bytes come back, with any newer bytes behind them, at the next data event, and nobody
// copies them in between. A length-prefixed protocol (4-byte big-endian length, then the
// body) reads its frames like this:
//
//   ev.data = [](evloop::Conn c, std::string_view in) {
//       while (in.size() >= 4) {
//           auto* p = reinterpret_cast<const unsigned char*>(in.data());
//           std::size_t len = std::size_t(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
//           if (len > kMaxFrame) return evloop::Action::close;  // refuse before buffering it
//           if (in.size() < 4 + len) break;                      // a partial frame: wait
//           handle_frame(c, in.substr(4, len));
//           in.remove_prefix(4 + len);
//       }
//       c.keep(in.size());  // the partial frame (or nothing) waits for the next read
//       return evloop::Action::none;
//   };
//
// Kept input is bounded by Options::max_input; a peer that makes a connection keep more is
// closed (EMSGSIZE). When the peer finishes (EOF), what was kept is presented once more
// before Events::eof, and to every wake after it, so messages kept behind a pause are not lost.
//
// Errors are values: setup errors come back from serve(), a failing connection closes
// only itself, and Events::closed says why it closed. An exception that escapes a
// callback stops the server gracefully; serve() rethrows it on its caller's thread once
// every loop has stopped and every socket is closed. Handle (below) is the only way in
// from other threads. The header needs C++17; the library is built as C++20.
#pragma once

#include <sys/socket.h>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <evloop/version.hpp>  // also EVLOOP_EXPORT

namespace evloop {

using Duration = std::chrono::nanoseconds;

// What to do once a callback returns.
enum class Action {
    none,      // carry on
    close,     // flush pending output, then close the connection (see Events::closed)
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
class Datagram;
class Mailbox;
struct Remote;
}  // namespace detail

// Per-connection settings, filled in by Events::opened.
struct ConnOptions {
    std::chrono::seconds tcp_keepalive{0};  // SO_KEEPALIVE with this idle time; 0 leaves it off
    bool tcp_nodelay = true;                // echo-style protocols want replies sent at once
    // Reading pauses while this connection's own output is above Options::high_water: what a
    // server whose output answers its input wants. A relay, whose output comes from another
    // connection, turns it off and pauses that other connection instead (Conn::pause,
    // Events::drained), so that its two directions never hold each other up.
    bool pause_on_high_water = true;
};

// How to dial out (Conn::dial, Server::dial).
struct DialOptions {
    Duration timeout = std::chrono::seconds(10);  // then the attempt fails with ETIMEDOUT
    std::any context{};                           // the new connection's context() once it opens
};

class Conn;

// A thread-safe reference to a connection. Copy it anywhere; every call is posted to the
// connection's loop and runs there in the order posted, after output already queued. A
// handle whose connection has closed reaches nobody, even when the fd number has been
// reused: every connection of a server has its own generation number, so handles compare
// and hash by it and can key a map.
class EVLOOP_EXPORT Handle {
public:
    Handle() = default;
    // A data event with no new bytes: `in` holds only what the connection kept (often
    // nothing). Use it to resume parsing after pausing, or to run code on the loop.
    bool wake() const;
    // Appends to the output, in order. Counts against Options::max_output together with
    // what is already pending and still in the mailbox: past the bound the bytes are not
    // queued, the connection is closed (ENOBUFS) and write() returns false.
    bool write(std::string bytes) const;
    bool close() const;                            // as Action::close
    bool run(std::function<void(Conn)> fn) const;  // fn(conn) on the connection's loop
    // The connection itself, when the calling thread is running its loop and it is still
    // open; valid like any Conn for the rest of the current callback. This is how two
    // connections on one loop (a relay's two sides) reach each other without the mailbox.
    std::optional<Conn> here() const;

    explicit operator bool() const { return mailbox_ != nullptr; }
    std::uint64_t generation() const { return generation_; }  // unique per server, never 0
    friend bool operator==(const Handle& a, const Handle& b) { return a.generation_ == b.generation_; }
    friend bool operator!=(const Handle& a, const Handle& b) { return !(a == b); }

    // Every call returns false when the loop is gone or the connection is known to have
    // closed (or, for write, past the bound); delivery is not confirmed: a connection can
    // still close before the call reaches it.
private:
    friend class Conn;
    std::shared_ptr<detail::Mailbox> mailbox_;
    std::shared_ptr<detail::Remote> remote_;  // the bound shared with writes on the loop
    int fd_ = -1;
    std::uint64_t generation_ = 0;
};

// The connection an event is about. A cheap view, valid only inside the callback that
// received it and only on that loop's thread; use handle() to reach it later.
// For UDP a Conn stands for one datagram: write() builds the one reply datagram,
// context() is empty for every datagram (UDP keeps no per-peer state: key your own map
// by remote_addr() if you need some), and the stream-only calls do nothing.
class EVLOOP_EXPORT Conn {
public:
    // Sends at once when nothing is queued; whatever the kernel does not take is queued and
    // written as the socket drains. Writes after close(), reset() or shutdown_write() are
    // dropped. For UDP, everything written during one data event leaves as one datagram.
    void write(std::string_view bytes);
    // The last n bytes of this data event's input were not consumed: present them again,
    // first, at the next data event.
    void keep(std::size_t n);
    void close();           // as returning Action::close
    void shutdown_write();  // after pending output, send FIN (shutdown(2)); reading goes on
    void reset();           // close at once, dropping pending output: the peer sees a reset
    void pause();           // stop reading from this connection until resume()
    void resume();

    std::any& context();     // yours: anything, kept for the connection's life
    int addr_index() const;  // which address passed to serve() it came from; -1 when dialled
    int loop_index() const;  // which loop serves it
    bool is_udp() const;
    bool is_dialed() const;
    int fd() const;                    // for socket options only; in `closed`, the number it had
    SocketAddress local_addr() const;  // both taken when the connection opened
    SocketAddress remote_addr() const;
    std::size_t pending_output() const;  // bytes written but not yet accepted by the kernel
    Handle handle() const;

    // A one-shot timer on this connection's loop. It never fires once the connection is
    // gone, and its function is destroyed when the connection closes. Returns an id for
    // cancel_timer(), which returns false for an id that is not this connection's live timer.
    std::uint64_t after(Duration delay, std::function<void(Conn)> fn);
    bool cancel_timer(std::uint64_t id);

    // Connects to url (tcp, tcp4, tcp6 or unix; numeric hosts, like the listen grammar)
    // from this connection's loop; the new connection opens there. The outcome is an
    // event: Events::opened (with is_dialed() and context() = options.context), or
    // Events::dial_failed. Returns an error only for a URL that cannot be dialled.
    Error dial(const std::string& url, DialOptions options = {});

    explicit Conn(detail::Connection* c) : c_(c) {}
    explicit Conn(detail::Datagram* d) : d_(d) {}

private:
    detail::Connection* c_ = nullptr;
    detail::Datagram* d_ = nullptr;
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
    // A stream connection was accepted, or a dial succeeded (c.is_dialed()). Write a
    // greeting with c.write(), set options.
    std::function<Action(Conn c, ConnOptions& options)> opened;
    // Exactly once per opened connection that was not detached. error is 0 only when
    // every byte written was handed to the kernel and the close was orderly; otherwise it
    // says why: ECONNRESET, EPIPE (the peer), ETIMEDOUT (idle_timeout, close_timeout),
    // ECANCELED (stop_timeout ended the drain), ENOBUFS (max_output), EMSGSIZE
    // (max_input), ECONNABORTED (reset() or an exception in a callback).
    std::function<void(Conn c, int error)> closed;
    // A dial failed: ECONNREFUSED, ETIMEDOUT, ENOENT (no such unix path), ECANCELED (the
    // server stopped first), ... Runs on the loop the connection would have joined.
    std::function<void(const std::string& url, std::any& context, int error)> dial_failed;
    // The socket, now blocking and yours to use and close, after output was flushed.
    // Without this callback, Action::detach closes instead.
    std::function<void(Conn c, int fd)> detached;
    // Bytes arrived: `in` is the kept input followed by the new bytes, valid until the
    // callback returns (see keep()). A wake brings no new bytes; for UDP, `in` is one
    // datagram (possibly empty).
    std::function<Action(Conn c, std::string_view in)> data;
    // Right after start, then again after `delay` (set it; it defaults to one second).
    std::function<Action(Duration& delay)> tick;
    // Just before each write attempt of `amount` bytes.
    std::function<void(Conn c, std::size_t amount)> pre_write;

    // The peer finished sending (read returned 0): the half-close. Reading stops; writing
    // goes on. Reply with c.write(), here or later (a timer, a Handle), and end with
    // Action::close (or c.close(), Handle::close): the library flushes, shuts down its
    // write side and closes. Options::close_timeout bounds a half-closed state that makes no
    // progress. After shutdown_write() the connection closes by itself once this callback
    // returns. Without this callback the library ends it at once: flush, FIN, close.
    std::function<Action(Conn c)> eof;
    // Pending output fell to Options::low_water or below, after being above it. A stream
    // that writes chunk after chunk writes while pending_output() is at or below low water
    // (a write the kernel takes whole queues nothing) and then waits for this.
    std::function<void(Conn c)> drained;
    // Pending output became empty.
    std::function<void(Conn c)> flushed;
};

struct Options {
    int loops = 1;  // -1: one per CPU
    Balance balance = Balance::round_robin;
    Backend backend = Backend::best;
    std::size_t max_conns = 0;  // accepted connections open at once; over it a new one is closed; 0: no cap
    Duration idle_timeout{0};   // close a connection silent this long in both directions; 0: never
    Duration close_timeout = std::chrono::seconds(30);  // bound on a closing or half-closed connection
                                                        // that makes no progress (no byte moves)
    Duration linger_timeout = std::chrono::seconds(2);  // after our FIN: wait this long for the peer's
    Duration stop_timeout = std::chrono::seconds(1);    // bound on draining output at stop
    // Reading pauses while pending output is above high_water and resumes once it is at or
    // below low_water (default: a quarter of high_water), so a peer that sends without
    // reading costs about high_water plus one read (ConnOptions::pause_on_high_water turns
    // this off for one connection; drained still fires). low_water must be below high_water.
    std::size_t high_water = 1 << 20;
    std::optional<std::size_t> low_water{};
    std::size_t max_output =
        64 << 20;  // pending output (and Handle writes) past this closes (ENOBUFS); 0: none
    std::size_t max_input = 1 << 20;  // kept input past this closes (EMSGSIZE); 0: none
    bool trace = false;               // one stderr line per readiness event and syscall result
};

class EVLOOP_EXPORT Server {
public:
    explicit Server(Events events, Options options = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Checks the options, binds every address (all or nothing), starts the loops, fires
    // serving, and runs until stop() or Action::shutdown. Returns the setup error, if any
    // (a bad option is named in the message). Call once.
    Error serve(const std::vector<std::string>& urls);
    // From any thread, also before serve() has bound anything: stop accepting, let pending
    // output drain for up to Options::stop_timeout, close everything, return.
    void stop();
    // From any thread while serving: dial url onto loop `loop` (-1: chosen by
    // Options::balance). The outcome is an event, as for Conn::dial.
    Error dial(const std::string& url, DialOptions options = {}, int loop = -1);

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

template <>
struct std::hash<evloop::Handle> {
    std::size_t operator()(const evloop::Handle& h) const noexcept {
        return std::hash<std::uint64_t>()(h.generation());
    }
};
