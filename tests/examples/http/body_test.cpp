// Request bodies, read and thrown away: they must end exactly where they end, however the
// bytes are cut, and the limits hold.
#include <doctest/doctest.h>

#include <string>

#include "body.hpp"

namespace {

struct Outcome {
    std::size_t used = 0;  // bytes that belonged to the body
    bool done = false;
    int status = 0;
};

// Feeds `in` in pieces of `piece` bytes until the body ends or is refused.
Outcome read_body(const http::Request& request, std::string_view in, std::size_t piece,
                  const http::Limits& limits = {}) {
    http::BodyReader reader;
    reader.start(request);
    Outcome o;
    while (o.used < in.size()) {
        auto step = reader.consume(in.substr(o.used, piece), limits);
        o.used += step.used;
        if (step.status) return o.status = step.status, o;
        if (step.done) return o.done = true, o;
        REQUIRE_MESSAGE(step.used == std::min(piece, in.size() - (o.used - step.used)),
                        "an unfinished body consumes everything it is given");
    }
    return o;
}

http::Request chunked() {
    http::Request r;
    r.body = http::Body::chunked;
    return r;
}

}  // namespace

TEST_CASE("body: Content-Length bytes end the body in any split") {
    http::Request r;
    r.body = http::Body::length;
    r.content_length = 1000;
    std::string in = std::string(1000, 'b') + "GET / HTTP/1.1\r\n";
    for (std::size_t piece : {1u, 7u, 999u, 1000u, 4096u}) {
        auto o = read_body(r, in, piece);
        CHECK(o.done);
        CHECK(o.used == 1000);
    }
}

TEST_CASE("body: chunks with extensions and trailer fields end the body in any split") {
    std::string body =
        "5;name=value\r\nhello\r\n"
        "A ; quoted=\"a b\"\r\n0123456789\r\n"
        "1\nx\n"  // bare LF endings
        "0\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n";
    std::string in = body + "GET / HTTP/1.1\r\n";
    for (std::size_t piece = 1; piece <= body.size() + 1; ++piece) {
        auto o = read_body(chunked(), in, piece);
        CHECK_MESSAGE(o.done, "pieces of " << piece);
        CHECK_MESSAGE(o.used == body.size(), "pieces of " << piece);
    }
    CHECK(read_body(chunked(), "0\r\n\r\n", 100).used == 5);
    CHECK(read_body(chunked(), "000\n\n", 100).used == 5);
}

TEST_CASE("body: malformed chunk framing is refused with 400") {
    for (std::string_view bad : {"x\r\n", "\r\n", ";ext\r\n", "5\r\nhelloX", "5\r\nhello\rX", "5 x\r\n",
                                 "0\r\nTrailer\x01\r\n\r\n", "0\r\n\rX", "1\r\nx\r\n0\r\nA: b\rC"}) {
        auto o = read_body(chunked(), bad, 1);
        CHECK_MESSAGE(o.status == 400, "input " << std::string(bad));
    }
}

TEST_CASE("body: a chunk size line is bounded") {
    std::string endless = "1;" + std::string(5000, 'e');
    auto o = read_body(chunked(), endless, 64);
    CHECK(o.status == 400);
    CHECK(o.used <= 4097);
}

TEST_CASE("body: chunks past the body limit are refused with 413 before their data") {
    http::Limits limits;
    limits.body = 100;
    CHECK(read_body(chunked(), "65\r\n", 1, limits).status == 413);  // 101 bytes in one chunk
    CHECK(read_body(chunked(), "64\r\n" + std::string(100, 'd') + "\r\n1\r\n", 1, limits).status == 413);
    CHECK(read_body(chunked(), "64\r\n" + std::string(100, 'd') + "\r\n0\r\n\r\n", 1, limits).done);
    CHECK(read_body(chunked(), "10000000000000000\r\n", 1, limits).status == 413);  // past 64 bits
}

TEST_CASE("body: trailer fields past the head limit are refused with 431") {
    http::Limits limits;
    limits.head = 64;
    std::string in = "0\r\nX: " + std::string(100, 't') + "\r\n\r\n";
    CHECK(read_body(chunked(), in, 10, limits).status == 431);
}
