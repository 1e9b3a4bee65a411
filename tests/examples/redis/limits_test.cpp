// stage04-redis as a process, against clients that break the rules: each limit, and the
// promise behind all of them: a hostile or slow client harms only itself.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "support.hpp"

using namespace redis_test;

namespace {

std::unique_ptr<harness::Server> start(const std::vector<std::string>& args = {}) {
    return start_stage04(stage04_path(), args);
}

// A bystander's round trip: the server is still serving everyone else.
void check_bystander(int port) {
    RawClient probe(port);
    REQUIRE(probe.send("PING\r\n"));
    CHECK(probe.read(7, milliseconds(2000)) == "+PONG\r\n");
}

std::string bulk_request(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args)
        out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

// Sends `unit` again and again, `total` bytes in all, or fewer if the server closes the
// connection first. (After refusing a request, the server shuts its side down and reads
// and discards for a while, so that its reply is not destroyed by a reset: sending
// usually succeeds to the end.)
void send_repeated(RawClient& c, const std::string& unit, std::size_t total) {
    for (std::size_t sent = 0; sent < total && c.send(unit, milliseconds(2000)); sent += unit.size()) {
    }
}

}  // namespace

TEST_CASE("limits: a 600 MB bulk header gets a protocol error and a close while a bystander is served") {
    auto server = start();
    int port = port_of(*server);
    std::size_t rss = server->rss_bytes();
    RawClient hostile(port);
    REQUIRE(hostile.send("*2\r\n$3\r\nSET\r\n$600000000\r\n"));
    bool closed = false;
    CHECK(hostile.read_to_end(milliseconds(5000), &closed) == "-ERR Protocol error: invalid bulk length\r\n");
    CHECK(closed);
    check_bystander(port);
    CHECK(server->rss_bytes() < rss + (8u << 20));  // nothing was allocated for the announced bulk
}

TEST_CASE("limits: an endless inline line is refused past 64 KiB while a bystander is served") {
    auto server = start();
    std::size_t rss = server->rss_bytes();
    RawClient hostile(port_of(*server));
    send_repeated(hostile, std::string(4096, 'a'), 4u << 20);
    check_bystander(port_of(*server));
    CHECK(server->rss_bytes() < rss + (8u << 20));  // 4 MiB sent, at most 64 KiB of it kept
    bool closed = false;
    CHECK(hostile.read_to_end(milliseconds(5000), &closed) ==
          "-ERR Protocol error: too big inline request\r\n");
}

TEST_CASE("limits: an endless bulk length line is refused past 64 KiB") {
    auto server = start();
    RawClient hostile(port_of(*server));
    REQUIRE(hostile.send("*1\r\n$"));
    send_repeated(hostile, std::string(4096, '7'), 4u << 20);
    bool closed = false;
    CHECK(hostile.read_to_end(milliseconds(5000), &closed) ==
          "-ERR Protocol error: too big bulk count string\r\n");
    check_bystander(port_of(*server));
}

TEST_CASE("limits: a multibulk count over 1048576 is refused and 1048576 itself is accepted") {
    auto server = start();
    RawClient over(port_of(*server)), at(port_of(*server));
    REQUIRE(over.send("*1048577\r\n"));
    bool closed = false;
    CHECK(over.read_to_end(milliseconds(5000), &closed) ==
          "-ERR Protocol error: invalid multibulk length\r\n");
    CHECK(closed);
    REQUIRE(at.send("*1048576\r\n$4\r\nECHO\r\n"));
    CHECK(at.read(1, milliseconds(300)).empty());  // waiting for the other 1048575 arguments
}

TEST_CASE("limits: --proto-max-bulk-len lowers the longest argument accepted") {
    auto server = start({"--proto-max-bulk-len", "1mb"});
    RawClient c(port_of(*server));
    REQUIRE(c.send("*2\r\n$4\r\nECHO\r\n$1048577\r\n"));
    bool closed = false;
    CHECK(c.read_to_end(milliseconds(5000), &closed) == "-ERR Protocol error: invalid bulk length\r\n");
    RawClient ok(port_of(*server));
    std::string value(1 << 20, 'v');
    REQUIRE(ok.send(bulk_request({"ECHO", value})));
    CHECK(ok.read(value.size() + 12, milliseconds(5000)) == "$1048576\r\n" + value + "\r\n");
}

TEST_CASE("limits: a partial request past the query buffer limit closes the connection unanswered") {
    auto server = start({"--client-query-buffer-limit", "1mb"});
    std::size_t rss = server->rss_bytes();
    RawClient hostile(port_of(*server));
    REQUIRE(hostile.send("*2\r\n$4\r\nECHO\r\n$100000000\r\n"));  // allowed by the bulk limit
    send_repeated(hostile, std::string(65536, 'x'), 4u << 20);
    bool closed = false;
    CHECK(hostile.read_to_end(milliseconds(5000), &closed).empty());  // as Redis: no reply, just the close
    CHECK(closed);
    check_bystander(port_of(*server));
    CHECK(server->rss_bytes() < rss + (16u << 20));
}

// ANCHOR: slow-reader-test
TEST_CASE("flow: a client that pipelines requests for a 1 MiB value without reading costs a bounded amount") {
    auto server = start();
    int port = port_of(*server);
    std::string value(1 << 20, '\0');
    for (std::size_t i = 0; i < value.size(); ++i)
        value[i] = static_cast<char>(i % 251);
    RawClient setter(port);
    REQUIRE(setter.send(bulk_request({"SET", "big", value})));
    REQUIRE(setter.read(5, milliseconds(5000)) == "+OK\r\n");
    std::size_t rss = server->rss_bytes();

    constexpr int kRequests = 300;  // 300 MiB of replies, were they all produced at once
    RawClient reader(port);
    std::string pipeline;
    for (int i = 0; i < kRequests; ++i)
        pipeline += "GET big\r\n";
    REQUIRE(reader.send(pipeline));
    // Let the server do all it will do with the pipeline while nobody reads, then look.
    auto until = harness::Clock::now() + harness::scaled(milliseconds(5000));
    while (!server->asleep() && harness::Clock::now() < until)
        std::this_thread::sleep_for(milliseconds(10));
    std::this_thread::sleep_for(milliseconds(200));
    CHECK(server->rss_bytes() < rss + (32u << 20));
    check_bystander(port);

    // Now read: every reply arrives, whole and in order, as the server resumes.
    std::string want = "$1048576\r\n" + value + "\r\n";
    for (int i = 0; i < kRequests; ++i) {
        CAPTURE(i);
        std::string got = reader.read(want.size(), milliseconds(10000));
        REQUIRE(got.size() == want.size());
        REQUIRE(got == want);
    }
    CHECK(reader.read(1, milliseconds(100)).empty());
}
// ANCHOR_END: slow-reader-test

TEST_CASE("flow: a client that half-closes after its pipeline still gets every reply") {
    auto server = start();
    int port = port_of(*server);
    std::string value(256 << 10, 'z');
    RawClient c(port);
    std::string pipeline = bulk_request({"SET", "big", value});
    for (int i = 0; i < 100; ++i)
        pipeline += "GET big\r\n";
    REQUIRE(c.send(pipeline));
    ::shutdown(c.fd(), SHUT_WR);
    // Read nothing for a moment, so the replies back up and the server pauses this client
    // with complete requests still kept when the FIN arrives.
    std::this_thread::sleep_for(milliseconds(100));
    bool closed = false;
    std::string got = c.read_to_end(milliseconds(10000), &closed);
    CHECK(closed);
    std::string one = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
    CHECK(got.size() == 5 + 100 * one.size());
    CHECK(got.substr(got.size() - one.size()) == one);
}

TEST_CASE("expiry: keys nobody reads again are reclaimed by the periodic sample") {
    auto server = start();
    RawClient c(port_of(*server));
    std::string pipeline;
    for (int i = 0; i < 2000; ++i)
        pipeline += "SET key:" + std::to_string(i) + " v PX 50\r\n";
    pipeline += "SET keeper v\r\n";
    REQUIRE(c.send(pipeline));
    REQUIRE(c.read(2001 * 5, milliseconds(5000)).size() == 2001 * 5);
    // DBSIZE counts keys not yet reclaimed and reclaims none itself: only the sample can.
    std::string size;
    auto until = harness::Clock::now() + harness::scaled(milliseconds(5000));
    while (harness::Clock::now() < until) {
        REQUIRE(c.send("DBSIZE\r\n"));
        size = c.read_line(milliseconds(2000));
        if (size == ":1\r\n") break;
        std::this_thread::sleep_for(milliseconds(50));
    }
    CHECK(size == ":1\r\n");
}

TEST_CASE("cli: --help prints the Redis options and exits 0") {
    auto r = harness::run_to_exit(stage04_path(), {"--help"}, harness::scaled(milliseconds(5000)));
    CHECK(r.status.clean());
    CHECK(r.out.find("--client-query-buffer-limit") != std::string::npos);
    CHECK(r.out.find("--loops") != std::string::npos);
}

TEST_CASE("cli: a udp address and out-of-range sizes exit 2 with nothing listening") {
    for (std::vector<std::string> args : {std::vector<std::string>{"--listen", "udp://127.0.0.1:0"},
                                          {"--proto-max-bulk-len", "12"},
                                          {"--client-query-buffer-limit", "5gb"},
                                          {"--proto-max-bulk-len", "1mbx"}}) {
        CAPTURE(args[1]);
        auto r =
            harness::run_to_exit(stage04_path(), args, harness::scaled(milliseconds(5000)), "listening on ");
        CHECK(r.status.exited);
        CHECK(r.status.code == 2);
        CHECK(r.out.empty());
        CHECK(r.err.find("stage04-redis: ") == 0);
    }
}

TEST_CASE("cli: SIGTERM exits 0 with clients connected") {
    auto server = start();
    RawClient a(port_of(*server)), b(port_of(*server));
    REQUIRE(a.send("SET k v\r\n*1\r\n$4\r\nPI"));
    CHECK(a.read(5, milliseconds(2000)) == "+OK\r\n");
    auto status = server->stop(harness::scaled(milliseconds(2000)));
    CHECK(status.clean());
}
