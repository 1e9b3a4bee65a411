// Starting and stopping a server that follows the contract: `--listen URL`, one
// "listening on URL" line on stdout once it is ready, exit 0 on SIGTERM.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace bench {

struct Spawned {
    pid_t pid = -1;
    std::string url;  // from its "listening on" line
    int out = -1;     // its stdout, kept open so a stray write does not fail
};

// Runs argv + {"--listen", listen}. Returns a pid of -1 and the reason in *error when it
// cannot start or prints no "listening on" line within timeout seconds.
Spawned spawn_server(const std::vector<std::string>& argv, const std::string& listen, double timeout,
                     std::string* error);

// SIGTERM, then waits up to timeout seconds. True when it exited with status 0;
// otherwise kills it and says why in *error.
bool stop_server(Spawned& server, double timeout, std::string* error);

}  // namespace bench
