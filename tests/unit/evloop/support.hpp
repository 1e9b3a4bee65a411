// What the evloop unit tests share: a server running on a thread of its own, a blocking
// client with bounded waits, a thread-safe event log, and time bounds scaled by
// EVLOOP_TEST_TIME_SCALE (the test-support library's scaled(), as in the conformance suite).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include "evloop/evloop.hpp"
#include "harness/time.hpp"

namespace t {

#if defined(MSG_NOSIGNAL)
inline constexpr int kNoSigPipe = MSG_NOSIGNAL;
#else
inline constexpr int kNoSigPipe = 0;  // main() ignores SIGPIPE instead
#endif

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

using harness::scaled;

// Every backend compiled in; each API test runs once per backend.
std::vector<evloop::Backend> backends();

// A server running serve() on its own thread. The constructor returns once serving has
// fired (or serve() failed); the destructor stops it and joins.
class Running {
public:
    Running(evloop::Events events, evloop::Options options,
            std::vector<std::string> urls = {"tcp://127.0.0.1:0"});
    ~Running();
    const std::string& url(std::size_t i = 0) const { return addrs.at(i); }
    void stop() { server->stop(); }
    // Waits for serve() to return by itself (Action::shutdown); false on timeout.
    bool wait_returned(ms timeout);

    std::vector<std::string> addrs;
    evloop::Error error;
    std::unique_ptr<evloop::Server> server;

private:
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool serving_ = false, returned_ = false;
};

// A blocking client socket; every wait is bounded and a timeout fails the test.
class Client {
public:
    explicit Client(const std::string& url);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    int fd() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }  // the socket is the caller's now
    void send(std::string_view bytes);
    std::string recv_exact(std::size_t n, ms timeout = scaled(5000ms));
    // Everything up to the server's EOF; fails if EOF does not come in time.
    std::string recv_until_eof(ms timeout = scaled(5000ms));
    // True when nothing at all arrives (no byte, no EOF) for `quiet`.
    bool silent_for(ms quiet);
    void shutdown_write();
    void close();
    void reset();  // close with SO_LINGER 0: the server sees ECONNRESET
    // Sends `bytes` while reading whatever comes back, until everything is sent and then
    // EOF, a reset, `expect` bytes or the timeout. Returns what arrived; *reset says
    // whether it ended in a reset.
    std::string exchange(std::string_view bytes, std::size_t expect, ms timeout = scaled(10000ms),
                         bool* reset = nullptr);

private:
    int fd_ = -1;
};

// A TCP listener on 127.0.0.1 nobody accepts from (a backlog of `backlog`), and its URL.
struct Listener {
    explicit Listener(int backlog = 16);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    int accept() const;  // one queued connection, blocking
    int fd = -1;
    std::string url;
};

// Polls pred every millisecond until it holds; false if it still does not after timeout.
// For state other threads change without telling a Log.
bool eventually(const std::function<bool()>& pred, ms timeout = scaled(5000ms));

// CPU time this process has used, in seconds (user + system).
double cpu_seconds();

// A byte pattern that makes lost, duplicated and reordered bytes visible.
std::string pattern(std::size_t n);

// Records what callbacks saw, from any thread.
class Log {
public:
    void add(std::string entry);
    std::vector<std::string> entries();
    std::size_t count(const std::string& entry);
    // Waits until `pred(entries)` holds; false on timeout.
    bool wait_for(const std::function<bool(const std::vector<std::string>&)>& pred,
                  ms timeout = scaled(5000ms));
    bool wait_count(const std::string& entry, std::size_t n, ms timeout = scaled(5000ms));

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::string> entries_;
};

}  // namespace t
