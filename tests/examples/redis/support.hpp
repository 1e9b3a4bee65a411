// What stage04-redis's process-level tests share: starting stage04-redis and a real
// redis-server, running redis-cli and redis-benchmark, and a raw client socket for bytes
// no client library would send. Servers are started through the harness's spawn API
// (harness::Server); everything else here is small on purpose.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/server.hpp"
#include "harness/time.hpp"

namespace redis_test {

using std::chrono::milliseconds;

// The stage04-redis binary under test (server_main.cpp).
std::string stage04_path();

// CTest's SKIP_RETURN_CODE for these programs.
inline constexpr int kSkipped = 77;

// The full path of `program` on PATH, or nullopt.
std::optional<std::string> find_program(const std::string& program);
// The path of `program`; when it is missing, prints "SKIPPED: ..." with the install line
// and exits with kSkipped, so CTest reports the test as skipped, never as passed.
std::string require_program(const std::string& program, const std::string& debian_package);

// stage04-redis on a free loopback port (port 0 and its "listening on" line).
std::unique_ptr<harness::Server> start_stage04(const std::string& path,
                                               const std::vector<std::string>& args = {});

// A real redis-server on a free loopback port, persistence off, one database (so SELECT
// answers as stage04-redis does), one I/O thread. redis-server treats port 0 as "no TCP",
// so a free port is found first, and another is tried if it is taken before the server
// binds it; ready once it logs "Ready to accept connections".
struct RealRedis {
    std::unique_ptr<harness::Server> process;
    int port = 0;
};
RealRedis start_redis_server(const std::string& redis_server_path, const std::vector<std::string>& args = {});

int port_of(const harness::Server& server);

// Runs `program args... < input` and returns what it printed (harness::run_to_exit
// through /bin/sh, which takes the input from a temporary file).
harness::RunResult run_with_input(const std::string& program, const std::vector<std::string>& args,
                                  std::string_view input, harness::Duration timeout);

// A blocking TCP client on 127.0.0.1 whose every wait is bounded.
class RawClient {
public:
    explicit RawClient(int port);
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    // Sends all of `bytes`; false when the server closed or reset the connection first.
    bool send(std::string_view bytes, harness::Duration timeout = milliseconds(5000));
    // Reads until `want` bytes have arrived, EOF, or the timeout; returns what came.
    std::string read(std::size_t want, harness::Duration timeout);
    // Reads up to and including the next CRLF (a one-line reply), or what came by the timeout.
    std::string read_line(harness::Duration timeout);
    // Reads until EOF (or a reset) or the timeout; *closed says whether it ended by EOF or reset.
    std::string read_to_end(harness::Duration timeout, bool* closed);
    // True once the server has closed the connection (EOF or a reset), waiting up to timeout.
    bool closed_within(harness::Duration timeout);
    int fd() const { return fd_; }

private:
    std::string read_by(std::size_t want, harness::Clock::time_point until);
    int fd_ = -1;
};

}  // namespace redis_test
