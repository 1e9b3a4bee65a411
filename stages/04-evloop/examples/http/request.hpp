// The request head: what the parser finds in it, the limits it enforces, and the
// incremental search for its end.
//
// A head is found in two steps. scan_head() looks for the blank line that ends it, picking
// up where the previous call stopped (the input it is shown again is the same bytes plus
// newer ones, because the server keeps an unfinished head with Conn::keep), so a head that
// trickles in a byte at a time costs O(n) in all; it enforces the size limits as it goes,
// so an endless line is refused at the limit, never buffered. Once the blank line is there,
// parse_head() reads the whole head in one strict pass. Nothing is copied: every view in a
// Request points into the caller's input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace http {

struct Limits {
    std::size_t request_line = 8 << 10;  // 414 past it (leading empty lines count towards it)
    std::size_t head = 32 << 10;         // request line and fields together: 431 past it
    std::size_t fields = 100;            // 431 past it
    std::uint64_t body = 1 << 20;        // a request body is read and discarded up to this: 413 past it
};

enum class Body { none, length, chunked };

struct Request {
    std::string_view method;  // case-sensitive: "get" is not GET
    std::string_view target;  // as sent: origin-form ("/a%20b?q") or absolute-form
    int minor = 1;            // HTTP/1.minor; 1.2 and later are served as 1.1
    bool close = false;       // the connection ends after this reply
    bool keep_alive = false;  // HTTP/1.0 asked to keep the connection ("Connection: keep-alive")
    bool expect_continue = false;
    std::string_view if_modified_since;  // empty when absent, repeated or empty
    Body body = Body::none;
    std::uint64_t content_length = 0;  // with Body::length
};

// Where scan_head() got to in the input that starts at the request's first byte.
struct HeadScan {
    std::size_t pos = 0;         // bytes examined so far
    std::size_t start = 0;       // where the request line starts (after any empty lines)
    std::size_t line_start = 0;  // where the line being examined starts
    std::size_t lines = 0;       // lines finished after `start` (the request line is the first)
};

struct HeadEnd {
    enum Kind { incomplete, complete, error } kind = incomplete;
    std::size_t length = 0;  // complete: the head's bytes, empty lines before it and the blank line included
    int status = 0;          // error: 400, 414 or 431
};

// Looks for the end of the head at the front of `in`; `scan` starts zeroed for each request.
HeadEnd scan_head(std::string_view in, const Limits& limits, HeadScan* scan);

// Parses a complete head (what scan_head() measured, from scan.start). Returns 0, or the
// status that refuses it: 400 (malformed, obs-fold, conflicting framing), 501 (a transfer
// coding other than chunked) or 505 (an HTTP major version other than 1).
int parse_head(std::string_view head, Request* out);

// Field names compare without regard to case (RFC 9110 section 5.1).
bool iequals(std::string_view a, std::string_view b);

// A hex digit's value (chunk sizes, percent escapes), or -1.
inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace http
