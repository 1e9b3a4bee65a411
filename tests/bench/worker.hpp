// One client thread: its own epoll set and its share of the connections.
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
#include <cstdint>
#include <string>
#include <vector>

#include "histogram.hpp"
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

// What went wrong, by kind. Any nonzero count makes the run fail.
struct Errors {
    std::uint64_t mismatch = 0;    // a byte differs from what was sent at that position
    std::uint64_t extra = 0;       // more bytes came back than were sent
    std::uint64_t short_echo = 0;  // bytes still missing at EOF or at the end of the run
    std::uint64_t closed = 0;      // the server closed or reset a connection it should have kept
    std::uint64_t connect = 0;     // connect() failed
    std::uint64_t io = 0;          // any other failed read or write
    std::uint64_t total() const { return mismatch + extra + short_echo + closed + connect + io; }
    void add(const Errors& o);
};

class Worker {
public:
    Worker(Shared& shared, int index, int connections);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void run();  // the thread's body

    // Read by the main thread while the worker runs (progress, hold mode), hence atomic.
    std::atomic<std::uint64_t> messages{0};   // echoes completed while measuring
    std::atomic<std::uint64_t> bytes{0};      // bytes verified while measuring
    std::atomic<std::uint64_t> sent{0};       // bytes written while measuring
    std::atomic<std::uint64_t> connects{0};   // connect mode: cycles completed while measuring
    std::atomic<std::uint64_t> connected{0};  // connections established so far
    std::atomic<std::uint64_t> error_count{0};

    // Read by the main thread after join().
    Histogram latency;
    Errors errors;

private:
    struct Conn;
    enum class Fault { mismatch, extra, short_echo, closed, connect, io };

    void open_pending();
    bool open(Conn& c);
    void on_event(Conn& c, std::uint32_t events);
    void on_connected(Conn& c);
    void start_message(Conn& c);
    void write_some(Conn& c);
    void read_some(Conn& c);
    void on_echoed(Conn& c);
    void on_eof(Conn& c);
    void fail(Conn& c, Fault fault, const std::string& detail);
    void close_conn(Conn& c);
    void want_writable(Conn& c, bool on);
    bool quiet() const;
    void begin_drain();
    void give_up_outstanding();

    Shared& shared_;
    const Options& opt_;
    int index_;
    int epfd_ = -1;
    std::vector<Conn> conns_;
    std::vector<std::size_t> pending_;  // slots waiting to (re)connect
    int connecting_ = 0;                // connects in progress
    std::vector<unsigned char> rbuf_, wbuf_;
};

}  // namespace bench
