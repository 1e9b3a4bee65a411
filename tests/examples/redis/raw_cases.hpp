// Raw protocol inputs for the differential test: bytes sent in one write to both
// stage04-redis and redis-server, whose answers (reply bytes, then whether the server
// closed) must be identical. Each case ends the connection itself (QUIT, or a protocol
// error) so neither server is waited for.
//
// A few cases are documented differences: where Redis is lenient in a way that lets the
// two sides disagree about where requests start, stage04-redis is strict. Those record
// both answers, so the test fails if either server changes its behaviour.
#pragma once

#include <string>
#include <vector>

namespace redis_test {

struct RawCase {
    const char* name;
    std::string bytes;
    int wait_ms = 3000;             // how long to wait for the server to close
    std::string redis_answer = {};  // for a documented difference: what redis-server answers
    std::string our_answer = {};    // ... and what stage04-redis answers instead
    bool divergent() const { return !our_answer.empty(); }
};

const std::vector<RawCase>& raw_cases();

}  // namespace redis_test
