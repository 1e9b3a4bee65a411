// A session fed bytes directly: pipelining, the output budget, closing, and the commands
// whose answers depend on time (with the clock fixed by the test).
#include <doctest/doctest.h>

#include <string>

#include "session.hpp"

namespace {

struct Fixture {
    std::int64_t now = 1'700'000'000'000;  // a fixed "Unix time in ms"
    redis::Server server;
    redis::Session session{server};
    redis::Session::Next last = redis::Session::Next::more_input;
    std::string kept;

    Fixture() {
        server.clock = [this] { return now; };
        server.started_ms = now;
    }

    // Feeds `bytes` after whatever was kept, as a connection would; returns the replies.
    std::string run(const std::string& bytes, std::size_t budget = 1 << 20) {
        kept += bytes;
        std::string out;
        auto r = session.feed(kept, out, budget);
        last = r.next;
        kept.erase(0, r.consumed);
        return out;
    }
};

}  // namespace

TEST_CASE("session: every request of a pipeline is answered in order, inline and multibulk mixed") {
    Fixture f;
    CHECK(
        f.run(
            "SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nINCR a\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n") ==
        "+OK\r\n$1\r\n1\r\n:2\r\n+PONG\r\n$2\r\nhi\r\n");
    CHECK(f.last == redis::Session::Next::more_input);
}

TEST_CASE("session: a partial request is kept and answered once the rest arrives") {
    Fixture f;
    CHECK(f.run("PING\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhel") == "+PONG\r\n");
    CHECK(f.kept == "*2\r\n$4\r\nECHO\r\n$5\r\nhel");
    CHECK(f.run("lo\r") == "");
    CHECK(f.run("\n") == "$5\r\nhello\r\n");
    CHECK(f.kept.empty());
}

TEST_CASE("session: feeding stops at the output budget and goes on from there") {
    Fixture f;
    f.run("SET big " + std::string(1000, 'x') + "\r\n");
    std::string pipeline;
    for (int i = 0; i < 10; ++i)
        pipeline += "GET big\r\n";
    std::string out = f.run(pipeline, 2500);
    CHECK(f.last == redis::Session::Next::output_full);
    CHECK(out.size() == 3 * 1009);  // stopped after the reply that reached the budget
    CHECK(f.kept.size() == 7 * 9);
    CHECK(f.run("", 1 << 20).size() == 7 * 1009);
    CHECK(f.last == redis::Session::Next::more_input);
}

TEST_CASE("session: QUIT answers OK and nothing after it runs") {
    Fixture f;
    CHECK(f.run("SET a 1\r\nQUIT\r\nSET a 2\r\n") == "+OK\r\n+OK\r\n");
    CHECK(f.last == redis::Session::Next::close);
    CHECK(f.server.keyspace.find("a")->second.value == "1");
}

TEST_CASE("session: a protocol error follows the replies before it and then the connection closes") {
    Fixture f;
    CHECK(f.run("PING\r\n*1\r\n$x\r\nPING\r\n") == "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    CHECK(f.last == redis::Session::Next::close);
}

TEST_CASE("session: a request that looks like HTTP is dropped without a reply") {
    Fixture f;
    CHECK(f.run("PING\r\nPOST / HTTP/1.1\r\nHost: x\r\n") == "+PONG\r\n");
    CHECK(f.last == redis::Session::Next::close);
}

TEST_CASE("session: expiry times count from the clock and TTL rounds to the nearest second") {
    Fixture f;
    CHECK(f.run("SET k v PX 1499\r\nTTL k\r\nPTTL k\r\n") == "+OK\r\n:1\r\n:1499\r\n");
    f.now += 1000;
    CHECK(f.run("PTTL k\r\nTTL k\r\n") == ":499\r\n:0\r\n");
    f.now += 500;
    CHECK(f.run("GET k\r\nTTL k\r\nEXISTS k\r\n") == "$-1\r\n:-2\r\n:0\r\n");
    CHECK(f.run("SET k v EXAT 1700000001\r\nTTL k\r\n") ==
          "+OK\r\n:-2\r\n");  // in the past: gone at the next look
    CHECK(f.run("SET k v\r\nEXPIRE k 100 GT\r\nEXPIRE k 100 NX\r\nEXPIRE k 50 GT\r\nEXPIRE k 50 LT\r\nTTL "
                "k\r\n") == "+OK\r\n:0\r\n:1\r\n:0\r\n:1\r\n:50\r\n");
    CHECK(f.run("PEXPIRE k 0\r\nEXISTS k\r\n") == ":1\r\n:0\r\n");  // a time already past deletes the key
}

TEST_CASE("session: INCR keeps a key's expiry and SET without KEEPTTL drops it") {
    Fixture f;
    CHECK(f.run("SET n 1 EX 100\r\nINCR n\r\nTTL n\r\nSET n 5 KEEPTTL\r\nTTL n\r\nSET n 6\r\nTTL n\r\n") ==
          "+OK\r\n:2\r\n:100\r\n+OK\r\n:100\r\n+OK\r\n:-1\r\n");
}

TEST_CASE("session: APPEND refuses to grow a value past the bulk limit") {
    Fixture f;
    f.server.limits.max_bulk = 8;
    CHECK(f.run("APPEND k 12345\r\nAPPEND k 678\r\nAPPEND k 9\r\nGET k\r\n") ==
          ":5\r\n:8\r\n-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n$8\r\n12345678\r\n");
}

TEST_CASE("session: an empty line and an empty multibulk get no reply") {
    Fixture f;
    CHECK(f.run("\r\n*0\r\n\nPING\r\n") == "+PONG\r\n");
}
