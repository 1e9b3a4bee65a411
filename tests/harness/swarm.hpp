// Hundreds or tens of thousands of scripted clients at once, each with its own pattern
// stream, on the client driver (driver.hpp) in one thread.
//
//   harness::Swarm swarm(c.address());
//   for (int i = 0; i < 100; ++i)
//       swarm.add({.steps = {harness::Step::round_trip(64, 100)}});
//   auto r = swarm.run({});
//   CHECK_MESSAGE(r.ok(), r.describe());
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "harness/conn.hpp"
#include "harness/latencies.hpp"
#include "harness/time.hpp"

namespace harness {

// A client's script: steps run in order on one connection.
struct Step {
    enum class Kind {
        send,            // send `bytes` more of the client's pattern
        push,            // send up to `bytes` more; give up once no byte went out for `pause`
        expect,          // receive and verify `bytes` more of the echo
        round_trip,      // `count` times: send `bytes`, wait for their echo; latency recorded
        pause,           // idle for `pause`
        shutdown_write,  // SHUT_WR
        expect_eof,      // the server must close cleanly (recv returns 0)
        close,           // close (FIN); ends the script
        reset,           // close with SO_LINGER 0 (RST); ends the script
    };
    Kind kind = Kind::send;
    std::uint64_t bytes = 0;
    int count = 1;
    Duration pause{};

    static Step send(std::uint64_t n) { return {Kind::send, n, 1, {}}; }
    static Step push(std::uint64_t n, Duration stall) { return {Kind::push, n, 1, stall}; }
    static Step expect(std::uint64_t n) { return {Kind::expect, n, 1, {}}; }
    static Step round_trip(std::uint64_t n, int times = 1) { return {Kind::round_trip, n, times, {}}; }
    static Step wait(Duration d) { return {Kind::pause, 0, 1, d}; }
    static Step shutdown_write() { return {Kind::shutdown_write, 0, 1, {}}; }
    static Step expect_eof() { return {Kind::expect_eof, 0, 1, {}}; }
    static Step close() { return {Kind::close, 0, 1, {}}; }
    static Step reset() { return {Kind::reset, 0, 1, {}}; }
};

struct Script {
    std::vector<Step> steps{};  // a script that ends without close/reset closes with FIN
    ConnectOptions connect{};
    std::uint64_t seed = 0;  // 0: the swarm assigns a distinct seed per client
    // Read and verify the echo whenever it arrives. false: read only during expect,
    // round_trip and expect_eof steps (a client that does not read, e.g. a slow reader).
    bool drain = true;
};

struct SwarmOptions {
    // At most this many connections open at once (0 = no limit). Clients start in the
    // order they were added, so long-lived clients added first keep their slots.
    std::size_t max_open = 0;
    // At most this many connects per second (0 = as fast as possible: no ramp).
    double connects_per_second = 0;
    // Stop at the first failing client (otherwise run them all and count).
    bool stop_on_failure = false;
    std::size_t chunk = 64 * 1024;  // send/recv unit
    Deadline deadline{};
};

struct ClientResult {
    bool done = false;  // script completed
    std::string error;  // why not ("connect: ECONNREFUSED", "byte 17 of the stream: ...", ...)
    std::uint64_t sent = 0, received = 0;
    Duration connect_time{};  // from connect() to writable
};

struct SwarmResult {
    std::vector<ClientResult> clients;  // in the order added
    std::size_t completed = 0, failed = 0, not_started = 0;
    Latencies round_trips;  // every round_trip step
    Latencies connects;     // every connect
    std::size_t peak_open = 0;
    Duration elapsed{};
    bool ok() const { return failed == 0 && not_started == 0 && completed == clients.size(); }
    // "1000 clients: 998 completed, 2 failed; first failure: client 17: ..."
    std::string describe() const;
};

class Swarm {
public:
    explicit Swarm(common::Address address);
    std::size_t add(Script script);  // returns the client's index
    std::size_t size() const { return scripts_.size(); }
    // Called on the driving thread once per loop turn (e.g. to sample the server's RSS while
    // the clients run); return false to stop early.
    void on_tick(std::function<bool()> hook) { tick_ = std::move(hook); }
    SwarmResult run(const SwarmOptions& options);

private:
    common::Address address_;
    std::vector<Script> scripts_;
    std::function<bool()> tick_;
};

}  // namespace harness
