// One client connection with bounded waits, and the probes built on it: "one round trip",
// "is it still serving?".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "harness/pattern.hpp"
#include "harness/time.hpp"

namespace harness {

struct ConnectOptions {
    int rcvbuf = 0;        // SO_RCVBUF set before connect (0: leave the default)
    int sndbuf = 0;        // SO_SNDBUF set before connect
    bool nodelay = false;  // TCP_NODELAY
};

// Creates a non-blocking, close-on-exec stream socket for `address` with `options` applied
// (buffer sizes must be set before connect: the window scale is agreed in the handshake,
// tcp(7)). -1 with errno set on failure.
int open_client_socket(const common::Address& address, const ConnectOptions& options);

// How a read-to-end finished.
enum class EndKind { eof, reset, timeout, error };
std::string_view end_kind_name(EndKind k);

struct ReadResult {
    std::string data;
    EndKind end = EndKind::eof;
    int error = 0;  // errno for reset/error
};

// The server's end of a client's TCP connection, as the kernel reports it (sock_diag(7)).
struct FarEnd {
    int state = 0;                // TCP_ESTABLISHED, TCP_CLOSE_WAIT, ... (netinet/tcp.h)
    std::uint64_t unread = 0;     // arrived and not yet read by the server; a FIN counts one
    std::uint64_t unacked = 0;    // written by the server and not yet acknowledged by the client
    std::uint32_t in_flight = 0;  // segments it has sent that the client has not acknowledged
    bool operator==(const FarEnd&) const = default;
};

// A client socket: SOCK_CLOEXEC, non-blocking underneath; every call waits with poll()
// up to its deadline (and never past the case's). Registered with the watchdog, which
// shuts it down when the case overruns. Closes on destruction.
class Conn {
public:
    Conn() = default;
    static Conn connect(const common::Address& address, const ConnectOptions& options = {},
                        Deadline deadline = {});
    // The next connection queued on `listener`, a socket the test itself listens on (the
    // backend behind a relay, say), waiting for one up to the deadline.
    static Conn accept(int listener, Deadline deadline = {});
    Conn(Conn&& other) noexcept;
    Conn& operator=(Conn&& other) noexcept;
    ~Conn();

    int fd() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

    void send_all(std::span<const std::uint8_t> data, Deadline deadline = {});
    void send_all(std::string_view data, Deadline deadline = {});
    // What the kernel takes right now without waiting (0 when the send buffer is full).
    // Throws on reset.
    std::size_t send_now(std::span<const std::uint8_t> data);
    // Exactly n bytes, or Failure (EOF, reset or deadline: the message says which).
    std::vector<std::uint8_t> recv_exact(std::size_t n, Deadline deadline = {});
    std::string recv_exact_string(std::size_t n, Deadline deadline = {});
    // Whatever arrives first (at least one byte), up to max; an empty result means EOF.
    // Throws on reset or deadline.
    std::vector<std::uint8_t> recv_some(std::size_t max, Deadline deadline = {});
    // Everything until the peer closes, telling a clean EOF (recv returns 0) from a reset
    // (ECONNRESET) and from the deadline. Gives up with EndKind::error beyond max_bytes.
    ReadResult read_until_eof(Deadline deadline = {}, std::size_t max_bytes = 256u << 20);
    // True if readable (data, EOF or error) before the deadline.
    bool wait_readable(Deadline deadline);

    // What our kernel holds: received and not read yet (SIOCINQ), and sent and not yet
    // acknowledged, a FIN counting one (SIOCOUTQ); tcp(7).
    std::uint64_t unread_bytes() const;
    std::uint64_t unacked_bytes() const;
    // The server's end of this connection, looked up by address and port. Nothing for a unix
    // socket or a server in another network namespace.
    std::optional<FarEnd> far_end() const;

    void shutdown_write();  // shutdown(SHUT_WR): the server sees EOF
    void set_nodelay(bool on);
    // Close with SO_LINGER {1, 0}: the kernel sends RST instead of FIN (socket(7)).
    void reset();
    void close();

private:
    explicit Conn(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// Sends `bytes` of Pattern(offset..) on an open connection and checks the echo; returns the
// round-trip time. Throws Failure on a wrong byte, EOF, reset or the deadline.
Duration round_trip(Conn& conn, const Pattern& pattern, std::uint64_t offset, std::size_t bytes,
                    Deadline deadline = {});

// The same, for a latency bound: nothing when the echo has not come by `give_up` (a server
// busy elsewhere), so the case can say how long it waited; other failures still throw.
std::optional<Duration> timed_round_trip(Conn& conn, const Pattern& pattern, std::uint64_t offset,
                                         std::size_t bytes, Deadline give_up);

// "Is it still serving?": a fresh connection, one round trip of `bytes`, our half-close,
// then every byte accounted for and a clean EOF.
void check_echo(const common::Address& address, std::size_t bytes = 64, Deadline deadline = {});

// For a CHECK_MESSAGE on two byte strings: "identical", or where they first differ and
// how long each is.
std::string first_difference(const std::string& got, const std::string& want);

}  // namespace harness
