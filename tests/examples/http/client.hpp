// What the tests that talk to a running stage04-http share: starting it over a document
// root (through the harness's server-spawn API), a blocking client socket whose every wait
// is bounded, and running a real client program (curl, wrk) to completion.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "exchange.hpp"
#include "harness/harness.hpp"

namespace httptest {

using std::chrono::milliseconds;

// Time bounds in these tests only catch hangs; scaled by EVLOOP_TEST_TIME_SCALE.
milliseconds bound(milliseconds ms);

// stage04-http serving `root` on `listen`, with any further arguments.
std::unique_ptr<harness::Server> start_http(const std::string& root, std::vector<std::string> args = {},
                                            std::vector<std::string> listen = {"tcp://127.0.0.1:0"});

class Client {
public:
    explicit Client(const common::Address& address, int rcvbuf = 0);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    int fd() const { return fd_; }
    void send(std::string_view bytes);             // all of it, or the test fails
    std::size_t send_now(std::string_view bytes);  // what the kernel takes without waiting
    void shutdown_write();
    // Everything that arrives until `replies` complete replies are in (`heads[i]`: reply i
    // answers a HEAD), the peer closes, or the bound passes.
    std::string read_replies(std::size_t replies, const std::vector<bool>& heads = {},
                             milliseconds within = milliseconds(10000));
    // Everything until the peer closes; `eof` says whether it did, cleanly, in time.
    std::string read_to_end(bool* eof, milliseconds within = milliseconds(10000));
    // At most `max` bytes, waiting up to the bound for the first; "" on EOF or timeout.
    std::string read_some(std::size_t max, milliseconds within);

private:
    int fd_ = -1;
};

// GET path on a fresh connection: the one reply.
Reply fetch(const common::Address& address, std::string_view request);

// A program (curl, wrk) by name from PATH, or "" when it is not installed.
std::string find_program(const std::string& name);

// The line a test prints to be counted as skipped (CTest's SKIP_REGULAR_EXPRESSION).
void report_skipped(const std::string& program, const std::string& package);

}  // namespace httptest
