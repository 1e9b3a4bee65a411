// What stage04-proxy's own tests share: the programs under test, a backend the test plays
// itself (a listener on loopback whose connections the test accepts and drives), and the
// relay started in front of it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/harness.hpp"

namespace proxytest {

using namespace std::chrono_literals;

std::string proxy_path();  // build/bin/stage04-proxy
std::string echo_path();   // build/bin/stage04-echo

// A TCP listener on 127.0.0.1 standing for the backend. With `backlog` 0 and full() called,
// its accept queue is full: Linux then drops further SYNs, so a connect to it gets no
// answer until the queue has room again (listen(2)): a stalled backend, on loopback.
class Backend {
public:
    explicit Backend(int backlog = 64);
    ~Backend();
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    std::string url() const { return url_; }
    // The relay's connection for the next client, up to the deadline.
    harness::Conn accept(harness::Deadline deadline = {});
    // Fills the accept queue (with backlog 0): connects that no one will answer follow.
    void fill();
    // Empties it again: the next connect (or SYN retransmitted) is answered.
    void unfill();

private:
    int fd_ = -1;
    std::string url_;
    std::vector<int> fillers_;
    int queued_ = 0;  // fillers that connected: they wait in the accept queue
};

// A URL on loopback where nothing listens: connects are refused.
std::string refused_url();

// Starts stage04-proxy --to `to` (plus `args`) on `listen` and waits for its listening lines.
std::unique_ptr<harness::Server> start_proxy(const std::string& to, std::vector<std::string> args = {},
                                             std::vector<std::string> listen = {"tcp://127.0.0.1:0"});

// Waits up to 2 s (scaled) for the server's descriptor count to come down to `baseline`;
// returns the last count seen.
int wait_for_fds(harness::Server& server, int baseline);

// How many times `needle` occurs in `text`.
std::size_t count(const std::string& text, const std::string& needle);

}  // namespace proxytest
