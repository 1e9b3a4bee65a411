// The request head: finding its end incrementally, under the limits, and reading it strictly.
#include <doctest/doctest.h>

#include <string>

#include "request.hpp"

namespace {

struct Parsed {
    http::HeadEnd end;
    int status = 0;  // parse_head's, once complete
    http::Request request;
};

// Scans `in` as one piece, and parses it when complete.
Parsed parse(std::string_view in, const http::Limits& limits = {}) {
    Parsed p;
    http::HeadScan scan;
    p.end = http::scan_head(in, limits, &scan);
    if (p.end.kind == http::HeadEnd::complete)
        p.status = http::parse_head(in.substr(scan.start, p.end.length - scan.start), &p.request);
    return p;
}

int status_of(std::string_view in, const http::Limits& limits = {}) {
    Parsed p = parse(in, limits);
    if (p.end.kind == http::HeadEnd::error) return p.end.status;
    REQUIRE_MESSAGE(p.end.kind == http::HeadEnd::complete, "the head should be complete");
    return p.status == 0 ? 200 : p.status;
}

std::string with_host(std::string_view line_and_fields) {
    return std::string(line_and_fields) + "Host: x\r\n\r\n";
}

}  // namespace

TEST_CASE("parser: a GET names its method target and version and the head's end") {
    std::string in = "GET /a%20b?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\nGET /next";
    Parsed p = parse(in);
    REQUIRE(p.end.kind == http::HeadEnd::complete);
    CHECK(p.end.length == in.find("GET /next"));
    CHECK(p.status == 0);
    CHECK(p.request.method == "GET");
    CHECK(p.request.target == "/a%20b?q=1");
    CHECK(p.request.minor == 1);
    CHECK_FALSE(p.request.close);
    CHECK(p.request.body == http::Body::none);
}

TEST_CASE("parser: a head that arrives one byte at a time is found once and at the same end") {
    std::string in = "\r\nHEAD /x HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(500, 'v') + "\r\n\r\n";
    http::HeadScan scan;
    http::Limits limits;
    for (std::size_t n = 1; n < in.size(); ++n) {
        auto end = http::scan_head(std::string_view(in).substr(0, n), limits, &scan);
        REQUIRE_MESSAGE(end.kind == http::HeadEnd::incomplete, "complete early at " << n);
        CHECK(scan.pos == n);  // every byte is looked at once
    }
    auto end = http::scan_head(in, limits, &scan);
    REQUIRE(end.kind == http::HeadEnd::complete);
    CHECK(end.length == in.size());
    CHECK(scan.start == 2);  // the empty line before the request line is skipped
}

TEST_CASE("parser: bare LF line endings are accepted and a bare CR is refused") {
    CHECK(status_of("GET / HTTP/1.1\nHost: x\n\n") == 200);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\rX: y\r\nHost: x\r\n\r\n") == 400);
}

TEST_CASE("parser: obs-fold and whitespace before the colon are refused") {
    CHECK(status_of("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: x\r\n: no name\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n") == 400);
}

TEST_CASE("parser: field values refuse control characters and accept obs-text") {
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nX: a\x01z\r\n")) == 400);
    CHECK(status_of(with_host(std::string("GET / HTTP/1.1\r\nX: a", 20) + std::string(1, '\0') + "z\r\n")) ==
          400);
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nX: a\x7fz\r\n")) == 400);
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nX: caf\xc3\xa9\tok \r\n")) == 200);
}

TEST_CASE("parser: the request line takes single spaces and a token method") {
    CHECK(status_of(with_host("GET  / HTTP/1.1\r\n")) == 400);
    CHECK(status_of(with_host("GET / HTTP/1.1 \r\n")) == 400);
    CHECK(status_of(with_host("GET /\r\n")) == 400);  // HTTP/0.9
    CHECK(status_of(with_host("G(T / HTTP/1.1\r\n")) == 400);
    CHECK(status_of(with_host("GET /caf\xc3\xa9 HTTP/1.1\r\n")) == 400);
    CHECK(status_of(with_host("GET /a#frag HTTP/1.1\r\n")) == 400);
    CHECK(status_of(with_host("BREW /pot HTTP/1.1\r\n")) == 200);  // the method is the session's to judge
}

TEST_CASE("parser: HTTP/1.0 and 1.1 are served and other majors get 505") {
    CHECK(status_of("GET / HTTP/1.0\r\n\r\n") == 200);
    CHECK(status_of(with_host("GET / HTTP/1.9\r\n")) == 200);
    CHECK(status_of(with_host("GET / HTTP/2.0\r\n")) == 505);
    CHECK(status_of(with_host("GET / HTTP/0.9\r\n")) == 505);
    CHECK(status_of(with_host("GET / http/1.1\r\n")) == 400);
    CHECK(status_of(with_host("GET / HTTP/1.10\r\n")) == 400);
    CHECK(status_of(with_host("GET / HTTP/1\r\n")) == 400);
}

TEST_CASE("parser: HTTP/1.1 needs exactly one Host and names compare without case") {
    CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n") == 200);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: \r\n\r\n") == 200);  // an empty authority
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n") == 400);
}

TEST_CASE("parser: Connection decides whether the connection persists") {
    auto request = [](std::string_view in) { return parse(in).request; };
    CHECK(request("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n").close);
    CHECK(request("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade, close\r\n\r\n").close);
    CHECK_FALSE(request("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n").close);
    CHECK(request("GET / HTTP/1.0\r\n\r\n").close);
    auto kept = request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    CHECK_FALSE(kept.close);
    CHECK(kept.keep_alive);
    CHECK_FALSE(request("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

TEST_CASE("parser: Content-Length frames a body and conflicting lengths are refused") {
    auto p = parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 42\r\n\r\n");
    CHECK(p.request.body == http::Body::length);
    CHECK(p.request.content_length == 42);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").request.body == http::Body::none);
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n")) == 200);
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 8\r\n")) == 400);
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nContent-Length: +7\r\n")) == 400);
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nContent-Length: 0x10\r\n")) == 400);
    CHECK(status_of(with_host("GET / HTTP/1.1\r\nContent-Length:\r\n")) == 400);
    auto huge = parse(with_host("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n"));
    CHECK(huge.status == 0);
    CHECK(huge.request.content_length == UINT64_MAX);  // over any limit: the session says 413
}

TEST_CASE("parser: Transfer-Encoding must end in chunked and stand alone") {
    CHECK(parse(with_host("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n")).request.body ==
          http::Body::chunked);
    CHECK(status_of(with_host("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n")) ==
          400);
    CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(status_of(with_host("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n")) == 501);
    CHECK(status_of(with_host("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n")) == 400);
    CHECK(status_of(with_host(
              "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")) == 400);
    CHECK(status_of(with_host("POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n")) == 200);
    CHECK(status_of(with_host("POST / HTTP/1.1\r\nTransfer-Encoding: \r\n")) == 400);
}

TEST_CASE("parser: a request line past its limit is 414 before its end arrives") {
    http::Limits limits;
    std::string line = "GET /" + std::string(limits.request_line, 'a');
    Parsed p = parse(line, limits);  // no line end yet
    CHECK(p.end.kind == http::HeadEnd::error);
    CHECK(p.end.status == 414);
    CHECK(status_of(with_host("GET /" + std::string(limits.request_line - 14, 'a') + " HTTP/1.1\r\n")) ==
          200);
    CHECK(status_of(with_host("GET /" + std::string(limits.request_line - 13, 'a') + " HTTP/1.1\r\n")) ==
          414);
}

TEST_CASE("parser: a head past its size or field count is 431 before its end arrives") {
    http::Limits limits;
    std::string endless = "GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + std::string(limits.head, 'v');
    Parsed p = parse(endless, limits);
    CHECK(p.end.kind == http::HeadEnd::error);
    CHECK(p.end.status == 431);
    std::string fields = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (std::size_t i = 1; i < limits.fields; ++i)
        fields += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(status_of(fields + "\r\n", limits) == 200);  // exactly the limit
    CHECK(status_of(fields + "X-Last: v\r\n\r\n", limits) == 431);
}

TEST_CASE("parser: empty lines before a request are skipped up to the request line limit") {
    http::Limits limits;
    limits.request_line = 16;
    CHECK(status_of("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", limits) == 200);
    std::string many;
    for (int i = 0; i < 9; ++i)
        many += "\r\n";
    CHECK(status_of(many + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", limits) == 400);
}

TEST_CASE("parser: If-Modified-Since and Expect are picked up") {
    std::string in = with_host(
        "GET / HTTP/1.1\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nExpect: 100-Continue\r\n");
    auto r = parse(in).request;  // its views point into `in`
    CHECK(r.if_modified_since == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(r.expect_continue);
    std::string repeated = with_host("GET / HTTP/1.1\r\nIf-Modified-Since: a\r\nIf-Modified-Since: b\r\n");
    CHECK(parse(repeated).request.if_modified_since.empty());
}
