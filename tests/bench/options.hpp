// echo-bench's command line.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/address.hpp"

namespace bench {

enum class Mode { ping, stream, connect, hold };

struct Options {
    common::Address address;
    Mode mode = Mode::ping;
    int threads = 1;
    int connections = 1;
    std::size_t size = 0;         // message size (ping, connect, hold) or write size (stream)
    std::uint64_t in_flight = 0;  // stream: unechoed bytes allowed per connection, 0 = no limit
    double duration = 5;          // seconds measured (hold: seconds held)
    double warmup = 1;            // seconds run before measuring
    std::uint64_t messages = 0;   // ping: stop after this many messages in all, 0 = run for `duration`
    double timeout = 5;           // seconds to wait for outstanding echoes at the end
    pid_t server_pid = 0;         // read the server's CPU, RSS and fds from /proc
    bool json = false;
    bool quiet = false;
    // After "--": a server command to start with `--listen <address>` and stop at the end.
    std::vector<std::string> server_command;
};

const char* mode_name(Mode mode);

// Exits 0 after --help and 2 with a reason on stderr for a bad argument.
Options parse_options(int argc, char** argv);

}  // namespace bench
