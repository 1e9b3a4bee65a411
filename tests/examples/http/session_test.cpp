// The conversation: statuses, persistence, pipelining, bodies, large files, splits.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "exchange.hpp"

namespace {

using httptest::converse;

// The site every case here serves.
struct Site {
    Site() {
        root.file("index.html", "<h1>home</h1>\n");
        root.file("a.txt", "alpha\n");
        root.file("dir/index.html", "dir\n");
        root.pattern_file("big.bin", 1000000, 7);
    }
    httptest::TempRoot root;
    httptest::Rig rig{root.path(), 64 << 10};
};

std::vector<httptest::Reply> replies(const httptest::Transcript& t, std::vector<bool> heads = {}) {
    std::vector<httptest::Reply> out;
    auto error = httptest::split_replies(
        t.out, [&](std::size_t i) { return i < heads.size() && heads[i]; }, &out);
    REQUIRE_MESSAGE(error.empty(), error << "\n" << t.out.substr(0, 2000));
    return out;
}

std::string get(std::string_view path, std::string_view extra = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n" + std::string(extra) + "\r\n";
}

}  // namespace

TEST_CASE("session: a GET is answered with exactly these bytes") {
    Site s;
    auto t = converse(s.rig.config, get("/a.txt"));
    CHECK(t.out ==
          "HTTP/1.1 200 OK\r\nServer: stage04-http\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
          "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n"
          "Last-Modified: Sun, 09 Sep 2001 01:46:40 GMT\r\n\r\nalpha\n");
    CHECK_FALSE(t.closed);
    CHECK(t.kept == 0);
}

TEST_CASE("session: HEAD gets the head GET would get and no body") {
    Site s;
    auto got = converse(s.rig.config, get("/a.txt")).out;
    auto head = converse(s.rig.config, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n").out;
    CHECK(head == got.substr(0, got.size() - 6));
    auto missing = replies(converse(s.rig.config, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n"), {true});
    CHECK(missing.at(0).status == 404);
    CHECK(missing.at(0).body.empty());
}

TEST_CASE("session: each refusal has its status") {
    Site s;
    struct Case {
        std::string request;
        int status;
        bool closes;
    };
    std::vector<Case> cases = {
        {get("/missing"), 404, false},
        {get("/../index.html"), 403, false},
        {get("/%2e%2e/index.html"), 403, false},
        {get("/dir"), 301, false},
        {"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 405, false},
        {"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501, false},
        {"GET / HTTP/1.1\r\n\r\n", 400, true},
        {get("/" + std::string(9000, 'a')), 414, true},
        {get("/", "X: " + std::string(40000, 'a') + "\r\n"), 431, true},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, true},
        {get("/", "Transfer-Encoding: gzip\r\n"), 501, true},
        {get("/", "Content-Length: 2000000\r\n"), 413, true},
    };
    for (const auto& c : cases) {
        auto t = converse(s.rig.config, c.request);
        auto r = replies(t);
        REQUIRE(r.size() == 1);
        CHECK_MESSAGE(r[0].status == c.status, c.request.substr(0, 60));
        CHECK_MESSAGE(t.closed == c.closes, c.request.substr(0, 60));
        CHECK(r[0].fields.count("content-length") == 1);
        CHECK(r[0].fields["content-type"] == "text/html; charset=utf-8");
        if (c.closes) CHECK(r[0].fields["connection"] == "close");
    }
}

TEST_CASE("session: 405 says Allow and 301 says where") {
    Site s;
    auto r = replies(converse(s.rig.config, "DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" + get("/dir?q=1")));
    REQUIRE(r.size() == 2);
    CHECK(r[0].fields["allow"] == "GET, HEAD");
    CHECK(r[1].fields["location"] == "/dir/?q=1");
}

TEST_CASE("session: If-Modified-Since gives 304 unless the file is newer or the date is not valid") {
    Site s;
    auto status = [&](std::string_view since) {
        return replies(
                   converse(s.rig.config, get("/a.txt", "If-Modified-Since: " + std::string(since) + "\r\n")))
            .at(0)
            .status;
    };
    CHECK(status("Sun, 09 Sep 2001 01:46:40 GMT") == 304);  // the file's own time
    CHECK(status("Sunday, 09-Sep-01 01:46:41 GMT") == 304);
    CHECK(status("Sun, 09 Sep 2001 01:46:39 GMT") == 200);  // a second older than the file
    CHECK(status("Sun, 09 Sep 2101 01:46:40 GMT") == 200);  // in the future: not a valid date
    CHECK(status("last week") == 200);
    auto r = replies(
        converse(s.rig.config, get("/a.txt", "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n")));
    CHECK(r.at(0).fields.count("content-length") == 0);
    CHECK(r.at(0).fields["last-modified"] == "Sun, 09 Sep 2001 01:46:40 GMT");
}

TEST_CASE("session: pipelined requests are answered in order in one write") {
    Site s;
    auto t = converse(s.rig.config, get("/a.txt") + "HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n" +
                                        get("/nope") + get("/index.html"));
    auto r = replies(t, {false, true, false, false});
    REQUIRE(r.size() == 4);
    CHECK(r[0].body == "alpha\n");
    CHECK(r[1].status == 200);
    CHECK(r[1].body.empty());
    CHECK(r[2].status == 404);
    CHECK(r[3].body == "<h1>home</h1>\n");
    CHECK(t.writes == 1);
}

TEST_CASE("session: an unfinished request is left for the next read") {
    Site s;
    std::string two = get("/a.txt") + get("/index.html");
    http::Session session(s.rig.config);
    std::string out;
    auto r = session.on_input(std::string_view(two).substr(0, two.size() - 5), out, 1 << 20);
    CHECK(r.consumed == get("/a.txt").size());
    CHECK_FALSE(r.close);
    CHECK_FALSE(r.stalled);
    CHECK(replies({out}).size() == 1);
}

TEST_CASE("session: Connection close and HTTP/1.0 end the conversation after their reply") {
    Site s;
    auto t = converse(s.rig.config, get("/a.txt", "Connection: close\r\n") + get("/index.html"));
    CHECK(t.closed);
    auto r = replies(t);
    REQUIRE(r.size() == 1);
    CHECK(r[0].fields["connection"] == "close");
    CHECK(converse(s.rig.config, "GET /a.txt HTTP/1.0\r\n\r\n").closed);
    auto big = converse(s.rig.config, get("/big.bin", "Connection: close\r\n") + get("/a.txt"));
    CHECK(big.closed);  // once the body sent in chunks is out
    auto bodies = replies(big);
    REQUIRE(bodies.size() == 1);
    CHECK(bodies[0].body.size() == 1000000);
    auto kept = converse(s.rig.config, "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK_FALSE(kept.closed);
    CHECK(replies(kept).at(0).fields["connection"] == "keep-alive");
}

TEST_CASE("session: a request body is read and thrown away and the next request answered") {
    Site s;
    std::string chunked =
        "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\nGET \r\n3;x=y\r\n/b \r\n0\r\nT: 1\r\n\r\n";
    std::string sized = "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\nGET /index.html x\n";
    auto t = converse(s.rig.config, chunked + sized + get("/index.html"));
    auto r = replies(t);
    REQUIRE(r.size() == 3);
    CHECK(r[0].body == "alpha\n");
    CHECK(r[1].status == 405);
    CHECK(r[2].body == "<h1>home</h1>\n");
    CHECK_FALSE(t.closed);
}

TEST_CASE("session: a chunked body past the limit is 413 and closes") {
    Site s;
    std::string in = "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i)
        in += "10000\r\n" + std::string(0x10000, 'b') + "\r\n";
    auto t = converse(s.rig.config, in, {100, 70000, 140000});
    auto r = replies(t);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 413);
    CHECK(t.closed);
}

TEST_CASE("session: a body behind Expect 100-continue is not waited for") {
    Site s;
    auto t = converse(s.rig.config, get("/a.txt", "Content-Length: 10\r\nExpect: 100-continue\r\n"));
    auto r = replies(t);
    REQUIRE(r.size() == 1);
    CHECK(r[0].status == 200);
    CHECK(r[0].fields["connection"] == "close");
    CHECK(t.closed);
}

TEST_CASE("session: a large file goes out in chunks and the request behind it waits") {
    Site s;
    std::string in = get("/big.bin") + get("/a.txt");
    http::Session session(s.rig.config);
    std::string out;
    auto r = session.on_input(in, out, 1 << 20);
    CHECK(r.stalled);
    CHECK(r.consumed == get("/big.bin").size());  // the second request is not touched yet
    CHECK(session.body_pending());
    CHECK(out.size() < 1000);  // the head alone
    std::size_t pumps = 0;
    while (session.body_pending()) {
        std::size_t before = out.size();
        REQUIRE(session.pump(out, s.rig.config.chunk));
        CHECK(out.size() - before <= s.rig.config.chunk);
        ++pumps;
    }
    CHECK(pumps == 16);  // 1,000,000 bytes in 64 KiB chunks
    auto rest = session.on_input(std::string_view(in).substr(r.consumed), out, 1 << 20);
    CHECK(rest.consumed == get("/a.txt").size());
    auto all = replies({out});
    REQUIRE(all.size() == 2);
    REQUIRE(all[0].body.size() == 1000000);
    for (std::size_t i = 0; i < all[0].body.size(); i += 4099)
        REQUIRE(static_cast<std::uint8_t>(all[0].body[i]) == httptest::pattern_byte(7, i));
    CHECK(all[1].body == "alpha\n");
}

TEST_CASE("session: a file that shrinks while it is sent ends the connection") {
    Site s;
    http::Session session(s.rig.config);
    std::string out;
    session.on_input(get("/big.bin"), out, 1 << 20);
    REQUIRE(session.body_pending());
    REQUIRE(session.pump(out, 65536));
    REQUIRE(::truncate(s.root.at("big.bin").c_str(), 100000) == 0);
    CHECK_FALSE(session.pump(out, 65536));  // 34,464 of the 65,536 asked for are left
    CHECK_FALSE(session.body_pending());
}

TEST_CASE("session: a pipeline stops at the output budget and goes on when called again") {
    Site s;
    std::string in;
    for (int i = 0; i < 100; ++i)
        in += get("/a.txt");
    http::Session session(s.rig.config);
    std::string out;
    auto r = session.on_input(in, out, 2000);
    CHECK(r.stalled);
    CHECK(out.size() >= 2000);
    CHECK(out.size() < 2000 + 300);
    auto t = converse(s.rig.config, in, {}, 2000);
    CHECK(replies(t).size() == 100);
    CHECK(t.writes >= 8);  // about 2,000 bytes of replies each
}

TEST_CASE("session: a pipeline gives the same bytes whatever the split points") {
    Site s;
    std::string in = "\r\n" + get("/a.txt") + "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" +
                     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
                     get("/big.bin") + get("/dir/", "Content-Length: 3\r\n") + "xyz" + get("/nope") +
                     "GET /a.txt HTTP/1.1\nHost: x\n\n";
    auto whole = converse(s.rig.config, in);
    CHECK(replies(whole, {false, true}).size() == 7);
    for (std::size_t cut = 1; cut < in.size(); ++cut) {
        auto t = converse(s.rig.config, in, {cut});
        REQUIRE_MESSAGE(t.out == whole.out, "split at " << cut);
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < in.size(); ++i)
        every.push_back(i);
    CHECK(converse(s.rig.config, in, every).out == whole.out);
}

TEST_CASE("session: it tells a request under way from a connection between requests") {
    Site s;
    http::Session session(s.rig.config);
    std::string out;
    CHECK_FALSE(session.mid_request());
    std::string in = get("/a.txt") + "GET /a.txt HT";
    session.on_input(in, out, 1 << 20);
    CHECK(session.requests() == 1);
    CHECK(session.mid_request());  // the second head has begun
    std::string body = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab";
    http::Session other(s.rig.config);
    other.on_input(body, out, 1 << 20);
    CHECK(other.requests() == 0);
    CHECK(other.mid_request());  // its body is still arriving
    other.on_input("cd", out, 1 << 20);
    CHECK(other.requests() == 1);
    CHECK_FALSE(other.mid_request());
    out.clear();
    other.time_out(out);
    CHECK(out.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
}

TEST_CASE("session: a reply that closes says only close even when HTTP/1.0 asked to keep the connection") {
    Site s;
    auto t = converse(s.rig.config,
                      "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n"
                      "Expect: 100-continue\r\n\r\n");
    CHECK(t.closed);
    CHECK(t.out.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(t.out.find("keep-alive") == std::string::npos);
}
