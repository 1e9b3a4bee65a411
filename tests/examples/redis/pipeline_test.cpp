// stage04-redis's framing seen from a socket: a pipeline answered by one write, requests
// split at every byte, and a protocol error in the middle of a pipeline.
#include <doctest/doctest.h>

#include <regex>
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
    // The server's --trace shows each read and each send on the connection: the read that
    // took the 600 bytes, then one send of all 700 bytes of replies (its line is printed
    // once send returns, so it may come a moment after the replies).
    const std::regex read_line("fd (\\d+) read -> 600\n(?:.*\n)*?.*fd \\1 send (\\d+) -> (\\d+)\n");
    std::string trace;
    std::smatch m;
    auto until = harness::Clock::now() + harness::scaled(milliseconds(2000));
    while (!std::regex_search(trace = server->stderr_text(), m, read_line) && harness::Clock::now() < until)
        std::this_thread::sleep_for(milliseconds(5));
    CAPTURE(trace);
    REQUIRE(!m.empty());
    CHECK(m[2] == "700");  // the first send after the read carried every reply
    CHECK(m[3] == "700");
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
