// stage04-http over real sockets: pipelining through the network, large files, half-close,
// persistence, and the command line.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <csignal>
#include <string>
#include <vector>

#include "client.hpp"

namespace {

using httptest::Client;
using httptest::milliseconds;

struct Served {
    Served() {
        root.file("index.html", "<h1>home</h1>\n");
        root.file("a.txt", "alpha\n");
        root.file("dir/index.html", "dir\n");
        root.pattern_file("64k.bin", 64 << 10, 1);
        root.pattern_file("big.bin", 3 << 20, 2);  // over the 64 KiB chunk: sent as output drains
        server = httptest::start_http(root.path());
    }
    const common::Address& address() const { return server->address(); }
    httptest::TempRoot root;
    std::unique_ptr<harness::Server> server;
};

std::string get(std::string_view path, std::string_view extra = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n" + std::string(extra) + "\r\n";
}

// A mix of kinds, each of which keeps the connection open.
std::vector<std::string> mixed_requests() {
    return {get("/a.txt"),
            "HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n",
            get("/missing"),
            get("/big.bin"),
            get("/dir"),
            "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            get("/64k.bin"),
            "GET /dir/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
            get("/%2e%2e/a.txt"),
            "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
            get("/a.txt", "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n"),
            "GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"};
}

std::vector<bool> heads_of(const std::vector<std::string>& requests) {
    std::vector<bool> heads;
    for (const auto& r : requests)
        heads.push_back(r.rfind("HEAD ", 0) == 0);
    return heads;
}

// The replies to each request on a connection of its own, one after the other.
std::string one_at_a_time(const common::Address& address, const std::vector<std::string>& requests) {
    std::string all;
    for (const auto& r : requests) {
        Client c(address);
        c.send(r);
        all += c.read_replies(1, {r.rfind("HEAD ", 0) == 0});
    }
    return httptest::mask_dates(all);
}

}  // namespace

TEST_CASE("server: a pipelined burst gets byte for byte the replies sent one at a time") {
    Served s;
    std::vector<std::string> requests;
    for (int round = 0; round < 3; ++round)
        for (const auto& r : mixed_requests())
            requests.push_back(r);
    std::string burst;
    for (const auto& r : requests)
        burst += r;
    Client c(s.address());
    c.send(burst);
    std::string got = c.read_replies(requests.size(), heads_of(requests));
    std::string expected = one_at_a_time(s.address(), requests);
    REQUIRE(got.size() == expected.size());
    CHECK(httptest::mask_dates(got) == expected);
    CHECK(s.server->alive());
}

TEST_CASE("server: a burst sent a byte at a time gets the same replies") {
    Served s;
    auto requests = mixed_requests();
    Client c(s.address());
    std::string burst;
    for (const auto& r : requests)
        burst += r;
    for (char byte : burst)
        c.send(std::string_view(&byte, 1));
    std::string got = c.read_replies(requests.size(), heads_of(requests));
    CHECK(httptest::mask_dates(got) == one_at_a_time(s.address(), requests));
}

TEST_CASE("server: one connection serves request after request") {
    Served s;
    Client c(s.address());
    for (int i = 0; i < 200; ++i) {
        c.send(get(i % 2 ? "/a.txt" : "/index.html"));
        std::vector<httptest::Reply> r;
        REQUIRE(httptest::split_replies(c.read_replies(1), &r).empty());
        REQUIRE(r.size() == 1);
        REQUIRE(r[0].status == 200);
    }
}

TEST_CASE("server: HTTP/1.0 and Connection close end the connection after the reply") {
    Served s;
    for (std::string request :
         {std::string("GET /a.txt HTTP/1.0\r\n\r\n"), get("/a.txt", "Connection: close\r\n")}) {
        Client c(s.address());
        c.send(request + get("/index.html"));  // the second request is never read
        bool eof = false;
        std::string bytes = c.read_to_end(&eof);
        CHECK(eof);
        std::vector<httptest::Reply> r;
        CHECK(httptest::split_replies(bytes, &r).empty());
        CHECK(r.size() == 1);
    }
}

TEST_CASE("server: a client that half-closes after its requests still gets every reply") {
    Served s;
    Client c(s.address());
    c.send(get("/big.bin") + get("/a.txt") + get("/64k.bin"));
    c.shutdown_write();
    bool eof = false;
    std::string bytes = c.read_to_end(&eof);
    CHECK(eof);
    std::vector<httptest::Reply> r;
    REQUIRE(httptest::split_replies(bytes, &r).empty());
    REQUIRE(r.size() == 3);
    CHECK(r[0].body.size() == 3u << 20);
    CHECK(r[1].body == "alpha\n");
    CHECK(r[2].body.size() == 64u << 10);
}

TEST_CASE("server: a 64 MiB file arrives whole and in order") {
    Served s;
    s.root.pattern_file("64m.bin", 64ull << 20, 9);
    Client c(s.address());
    c.send(get("/64m.bin"));
    std::string head = c.read_some(4096, milliseconds(5000));
    auto end = head.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    CHECK(head.find("Content-Length: 67108864\r\n") != std::string::npos);
    std::uint64_t offset = 0, bad = 0;
    auto check = [&](std::string_view bytes) {
        for (char b : bytes) {
            if (static_cast<std::uint8_t>(b) != httptest::pattern_byte(9, offset) && bad == 0)
                bad = offset + 1;
            ++offset;
        }
    };
    check(std::string_view(head).substr(end + 4));
    while (offset < (64ull << 20)) {
        std::string more = c.read_some(1 << 20, milliseconds(5000));
        REQUIRE_MESSAGE(!more.empty(), "the body stopped at " << offset);
        check(more);
    }
    CHECK(offset == 64ull << 20);
    CHECK_MESSAGE(bad == 0, "first wrong byte at " << bad - 1);
}

TEST_CASE("server: bad or missing --root and udp addresses exit 2 and a taken port exits 1") {
    httptest::TempRoot root;
    root.file("file", "x");
    auto run = [](std::vector<std::string> args) {
        return harness::run_to_exit(STAGE04_HTTP_PATH, args, httptest::bound(milliseconds(5000)),
                                    "listening on ");
    };
    for (auto args :
         std::vector<std::vector<std::string>>{{},
                                               {"--root", root.at("missing")},
                                               {"--root", root.at("file")},
                                               {"--root", root.path(), "--listen", "udp://127.0.0.1:0"},
                                               {"--root", root.path(), "--loops", "0"}}) {
        auto r = run(args);
        CHECK_MESSAGE(r.status.exited, r.status.describe());
        CHECK_MESSAGE(r.status.code == 2, r.err);
        CHECK(r.out.empty());
        CHECK(r.err.rfind("stage04-http: ", 0) == 0);
        CHECK(r.err.find("usage: stage04-http") != std::string::npos);
    }
    auto help = run({"--help"});
    CHECK(help.status.clean());
    CHECK(help.out.find("--root DIR") != std::string::npos);
    // A runtime setup failure is 1, not 2: the address is taken.
    auto first = httptest::start_http(root.path());
    auto taken = run({"--root", root.path(), "--listen", first->url()});
    CHECK(taken.status.exited);
    CHECK(taken.status.code == 1);
    CHECK(taken.err.find("Address already in use") != std::string::npos);
}

TEST_CASE("server: SIGTERM stops it with status 0 while a large file is being sent") {
    Served s;
    Client c(s.address(), 16 << 10);
    c.send(get("/big.bin"));
    CHECK_FALSE(c.read_some(4096, milliseconds(5000)).empty());
    auto status = s.server->stop(httptest::bound(milliseconds(3000)));
    CHECK_MESSAGE(status.clean(), status.describe());
}

TEST_CASE("server: a unix socket serves as tcp does") {
    httptest::TempRoot root;
    root.file("a.txt", "alpha\n");
    auto server = httptest::start_http(root.path(), {}, {"unix://" + root.at("http.sock")});
    auto reply = httptest::fetch(server->address(), get("/a.txt"));
    CHECK(reply.status == 200);
    CHECK(reply.body == "alpha\n");
}

TEST_CASE("server: four loops serve 50 connections that each pipeline 20 requests") {
    httptest::TempRoot root;
    root.file("a.txt", "alpha\n");
    root.pattern_file("64k.bin", 64 << 10, 1);
    auto server = httptest::start_http(root.path(), {"--loops", "4"});
    std::vector<std::unique_ptr<Client>> clients;
    std::string burst;
    for (int i = 0; i < 20; ++i)
        burst += get(i % 4 ? "/a.txt" : "/64k.bin");
    for (int i = 0; i < 50; ++i) {
        clients.push_back(std::make_unique<Client>(server->address()));
        clients.back()->send(burst);
    }
    for (auto& c : clients) {
        std::vector<httptest::Reply> r;
        REQUIRE(httptest::split_replies(c->read_replies(20), &r).empty());
        REQUIRE(r.size() == 20);
        for (std::size_t i = 0; i < r.size(); ++i)
            REQUIRE(r[i].body.size() == (i % 4 ? 6u : 64u << 10));
    }
}
