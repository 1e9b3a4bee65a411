// Many non-blocking client connections on one epoll set, driven from one thread: the engine
// under the swarm cases (swarm.hpp) and under each of echo-bench's load threads.
//
// Each connection sends its own pattern stream (its seed) and checks every echoed byte
// against it as it arrives. The driver owns the sockets, the readiness loop and the
// verification; its owner decides what to send and when, through a Handler: a script step by
// step (the swarm), or a benchmark mode (ping, stream, connect, hold). So "how a client
// verifies bytes" is written once, here.
//
//   slot        a connection's place, 0 .. slots-1, reused for the next connection once closed
//   sent        pattern bytes written so far; send_until() moves the target
//   received    bytes echoed and verified so far: never more than sent
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "harness/conn.hpp"

namespace harness {

// What went wrong with one connection. Whatever it is, the driver has closed it.
enum class Fault {
    connect,     // socket(), connect() or the handshake failed
    mismatch,    // a byte differs from the one sent at that position
    extra,       // more bytes came back than were sent
    short_echo,  // the server closed before echoing everything
    closed,      // the server reset the connection
    io,          // any other call failed
};

struct DriverOptions {
    std::size_t chunk = 64 * 1024;        // bytes per send() at most
    std::size_t read_buffer = 64 * 1024;  // bytes per recv() at most
    // recv() and send() calls per readiness event at most, so that one fast connection cannot
    // starve the others; 0: until EAGAIN (for send, or until the target is reached).
    int reads_per_event = 4;
    int writes_per_event = 4;
    // Register every socket with the case watchdog, which shuts them down when a case overruns.
    bool watchdog = true;
};

// One connection's stream, as far as it has gone. Kept after the connection closes, until
// the slot opens again, so that a failure can say where it happened.
struct Stream {
    std::uint64_t seed = 0;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t limit = 0;  // send_until()'s target
    bool open = false;
    bool connecting = false;
    bool reading = true;  // the echo is read (and verified) as it arrives
    bool eof = false;     // the server's FIN has arrived
};

class Driver {
public:
    // Called on the driver's thread, from poll() or from the call that caused it. A handler may
    // call the driver back (send more, close, open another slot) from any of these.
    class Handler {
    public:
        virtual void connected(std::size_t slot) = 0;
        // After the reads and writes one readiness event allowed: `sent` bytes went out and
        // `verified` came back correct (either may be 0).
        virtual void progressed(std::size_t slot, std::uint64_t sent, std::uint64_t verified) = 0;
        // The server closed its side after echoing every byte sent. The connection stays open
        // (we may still send) until the owner closes it.
        virtual void ended(std::size_t slot) = 0;
        // The connection failed and is closed. `detail`: "recv: ECONNRESET (...) after 10 of 20
        // bytes came back", "byte 17 of the stream: expected 0x5a, got 0x00", ...
        virtual void failed(std::size_t slot, Fault fault, const std::string& detail) = 0;

    protected:
        ~Handler() = default;
    };

    Driver(const common::Address& address, std::size_t slots, Handler& handler,
           const DriverOptions& options = {});
    ~Driver();  // closes every connection still open, telling the handler nothing
    Driver(const Driver&) = delete;
    Driver& operator=(const Driver&) = delete;

    // Starts a connection in a closed slot with its own pattern `seed`. Returns false when a
    // unix socket's listen queue is full (connect(2) says EAGAIN and starts nothing, unix(7)):
    // the slot stays closed; try again later. Otherwise connected() or failed() follows,
    // possibly before open() returns.
    bool open(std::size_t slot, std::uint64_t seed, const ConnectOptions& options = {});
    // Sends the pattern until `limit` bytes of it have gone out: now, as far as the kernel
    // takes it, then whenever the socket is writable. A limit at or below `sent` stops sending.
    // False when the connection failed meanwhile.
    bool send_until(std::size_t slot, std::uint64_t limit);
    void set_reading(std::size_t slot, bool on);
    // Reads and verifies whatever has arrived, without waiting (e.g. just before a close);
    // *eof tells whether the server's clean EOF was among it (ended() is not called). False
    // when the connection failed meanwhile.
    bool read_now(std::size_t slot, bool* eof);
    bool shutdown_write(std::size_t slot);  // our FIN; false when it failed (then reported)
    // Closes the connection, telling the handler nothing; `reset`: with SO_LINGER {1, 0}, so
    // the kernel sends RST instead of FIN (socket(7)).
    void close(std::size_t slot, bool reset = false);

    const Stream& stream(std::size_t slot) const { return slots_[slot].stream; }
    std::size_t connecting() const { return connecting_; }  // connects in progress

    // Waits up to timeout_ms for readiness (epoll_wait(2)) and handles whatever came.
    // Throws Failure when epoll itself fails.
    void poll(int timeout_ms);

private:
    struct Slot {
        int fd = -1;
        std::uint32_t gen = 0;  // bumped on close: events for an earlier socket in the slot are stale
        std::uint32_t mask = 0;
        Stream stream;
    };

    std::uint64_t tag(std::size_t slot) const;
    bool alive(std::size_t slot, std::uint32_t gen) const;
    void finish_connect(std::size_t slot);
    void handle(std::size_t slot, std::uint32_t events);
    bool read_some(std::size_t slot, bool* eof);
    bool write_some(std::size_t slot);
    bool update_interest(std::size_t slot);
    bool control(std::size_t slot, int op, std::uint32_t mask, Fault fault);  // epoll_ctl(2)
    void fail(std::size_t slot, Fault fault, const std::string& detail);

    common::Address address_;
    Handler& handler_;
    DriverOptions options_;
    int epoll_ = -1;
    std::vector<Slot> slots_;
    std::size_t connecting_ = 0;
    std::vector<std::uint8_t> read_buf_, write_buf_;
};

std::string_view fault_name(Fault fault);

}  // namespace harness
