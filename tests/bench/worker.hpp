// One client thread: its share of the connections, on a client driver of its own
// (harness/driver.hpp, the one under the conformance suite's swarm cases), which sends every
// connection's pattern and checks every echoed byte. The worker adds what a benchmark mode
// sends when, and what it counts.
//
// The main thread moves every worker through the same phases; a worker only reads the
// phase, so the threads share nothing on the hot path but relaxed counters.
//
//   warmup   connect and run, count nothing
//   measure  count messages, bytes and latencies
//   drain    start nothing new; wait (up to --timeout) for every outstanding echo
//            (hold mode: this is when each idle connection does its one echo)
//   done     close everything and return
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/driver.hpp"
#include "harness/latencies.hpp"
#include "options.hpp"

namespace bench {

enum class Phase { warmup, measure, drain, done };

struct Shared {
    explicit Shared(const Options& o) : options(o) {}
    const Options& options;
    std::atomic<Phase> phase{Phase::warmup};
    std::atomic<std::uint64_t> budget{0};     // ping --messages: messages not yet started
    std::atomic<std::uint64_t> next_seed{1};  // every connection gets its own byte stream
    std::atomic<int> quiet_workers{0};        // workers with nothing outstanding in drain
    std::atomic<int> error_lines{0};          // errors described on stderr so far
};

// What went wrong, by kind (harness::Fault). Any nonzero count makes the run fail.
struct Errors {
    std::uint64_t mismatch = 0;    // a byte differs from what was sent at that position
    std::uint64_t extra = 0;       // more bytes came back than were sent
    std::uint64_t short_echo = 0;  // bytes still missing at EOF or at the end of the run
    std::uint64_t closed = 0;      // the server closed or reset a connection it should have kept
    std::uint64_t connect = 0;     // connect() failed
    std::uint64_t io = 0;          // any other failed read or write
    std::uint64_t total() const { return mismatch + extra + short_echo + closed + connect + io; }
    void count(harness::Fault fault);
    void add(const Errors& o);
};

class Worker final : harness::Driver::Handler {
public:
    Worker(Shared& shared, int index, int connections);
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void run();  // the thread's body

    // Read by the main thread while the worker runs (progress, hold mode), hence atomic.
    std::atomic<std::uint64_t> messages{0};     // echoes completed while measuring
    std::atomic<std::uint64_t> bytes{0};        // bytes verified while measuring
    std::atomic<std::uint64_t> sent{0};         // bytes written while measuring
    std::atomic<std::uint64_t> connects{0};     // connect mode: cycles completed while measuring
    std::atomic<std::uint64_t> established{0};  // connections established so far
    std::atomic<std::uint64_t> error_count{0};

    // Read by the main thread after join().
    harness::Latencies latency;
    Errors errors;

private:
    // What a mode adds to the driver's stream of a connection.
    struct Conn {
        std::int64_t started_ns = 0;     // when the message (connect mode: the connection) began
        std::uint64_t message_end = 0;   // ping, connect, hold: the stream offset that ends it
        std::uint64_t counted_sent = 0;  // how much of the stream the counters have seen
        std::uint64_t counted_received = 0;
        bool awaiting = false;     // a message is out and its echo not complete
        bool half_closed = false;  // connect mode: our FIN is sent, the server's EOF is awaited
        bool echoed = false;       // hold mode: its one echo is done
    };

    void connected(std::size_t slot) override;
    void progressed(std::size_t slot, std::uint64_t sent, std::uint64_t verified) override;
    void ended(std::size_t slot) override;
    void failed(std::size_t slot, harness::Fault fault, const std::string& detail) override;

    void open_pending();
    void start_message(std::size_t slot);
    void stream_more(std::size_t slot);
    void on_echoed(std::size_t slot);
    void account(std::size_t slot);
    // Closes the connection (if it is still open) and counts the fault; a connect-mode slot
    // carries on with a fresh connection until the drain.
    void fault(std::size_t slot, harness::Fault fault, const std::string& detail);
    bool quiet() const;
    void begin_drain();
    void give_up_outstanding();

    Shared& shared_;
    const Options& opt_;
    int index_;
    std::vector<Conn> conns_;
    harness::Driver driver_;
    std::vector<std::size_t> pending_;  // slots waiting to (re)connect
};

}  // namespace bench
