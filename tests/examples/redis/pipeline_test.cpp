// stage04-redis's framing seen from a socket: a pipeline answered by one write, requests
// split at every byte, and a protocol error in the middle of a pipeline.
#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "support.hpp"

using namespace redis_test;

// ANCHOR: one-write-test
TEST_CASE("pipeline: 100 requests in one segment are answered by one send of 100 replies") {
    auto server = start_stage04(stage04_path(), {"--trace"});
    RawClient c(port_of(*server));
    std::string pipeline;
    for (int i = 0; i < 100; ++i)
        pipeline += "PING\r\n";
    REQUIRE(c.send(pipeline));
    std::string replies = c.read(700, milliseconds(5000));
    REQUIRE(replies.size() == 700);
    // In the server's --trace, the read that took the 600 bytes is followed by the sends of
    // their replies, and the first must carry all 700 bytes. (This is the connection's only
    // traffic, and a send's line is printed once send returns: a moment after the replies.)
    std::string after_read;
    auto until = harness::Clock::now() + harness::scaled(milliseconds(2000));
    while (after_read.find(" send ") == std::string::npos && harness::Clock::now() < until) {
        std::this_thread::sleep_for(milliseconds(5));
        std::string trace = server->stderr_text();
        auto read = trace.find(" read -> 600\n");
        after_read = read == std::string::npos ? "" : trace.substr(read);
    }
    auto send = after_read.find(" send ");
    CAPTURE(after_read);
    REQUIRE(send != std::string::npos);
    CHECK(after_read.substr(send, after_read.find('\n', send) - send) == " send 700 -> 700");
}
// ANCHOR_END: one-write-test

TEST_CASE("pipeline: requests sent one byte per segment get every reply exactly once") {
    auto server = start_stage04(stage04_path());
    RawClient c(port_of(*server));
    std::string requests, want;
    for (int i = 0; i < 20; ++i) {
        std::string key = "k" + std::to_string(i % 3);
        requests += "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$2\r\nv" +
                    std::to_string(i % 10) + "\r\n";
        requests += "GET " + key + "\r\n";
        want += "+OK\r\n$2\r\nv" + std::to_string(i % 10) + "\r\n";
    }
    for (char byte : requests)
        REQUIRE(c.send(std::string(1, byte)));  // TCP_NODELAY: each send leaves as its own segment
    CHECK(c.read(want.size(), milliseconds(10000)) == want);
    CHECK(c.read(1, milliseconds(100)).empty());
}

TEST_CASE("pipeline: a protocol error answers the requests before it then itself then closes") {
    auto server = start_stage04(stage04_path());
    RawClient c(port_of(*server));
    REQUIRE(c.send("SET a 1\r\nINCR a\r\n*1\r\n$x\r\nGET a\r\n"));
    bool closed = false;
    CHECK(c.read_to_end(milliseconds(5000), &closed) ==
          "+OK\r\n:2\r\n-ERR Protocol error: invalid bulk length\r\n");
    CHECK(closed);
    RawClient after(port_of(*server));  // and the request after the error was never run
    REQUIRE(after.send("GET a\r\n"));
    CHECK(after.read(7, milliseconds(2000)) == "$1\r\n2\r\n");
}
