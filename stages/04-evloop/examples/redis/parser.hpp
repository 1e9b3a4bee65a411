// The RESP2 request parser: finds where one request ends in a byte stream, without
// copying it. A request comes in one of two forms:
//
//   multibulk  *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n   what every client library sends:
//              a count, then each argument as a length and that many bytes (binary-safe)
//   inline     SET k value\r\n                               what a person types into telnet:
//              one line split at spaces, with "..." and '...' quoting
//
// parse() looks at the unconsumed input, which starts at the first byte of a request. It
// answers `complete` (args() views the arguments, size() bytes make up the request),
// `incomplete` (the request is not all here yet: keep the input and call again once more
// bytes have arrived behind it), or `error` (a protocol error: reply with error() and
// close, since nothing after it can be trusted to start a request).
//
// An incomplete request is not parsed again from the start: the parser remembers how far
// it got (the arguments already found, where it stopped looking for a line end, how many
// bytes the next step needs), so a request that arrives one byte per read costs time
// linear in its size, not quadratic. The positions it remembers are offsets from the
// start of the request, so they stay right when the caller's buffer moves in memory.
//
// Every limit is checked on what is known, never on how the bytes happened to be split
// into reads: the same bytes give the same answer whatever the split (the fuzz target
// checks exactly that).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redis {

struct Limits {
    std::size_t max_inline = 64 * 1024;           // an inline request line (Redis: PROTO_INLINE_MAX_SIZE)
    std::int64_t max_args = 1024 * 1024;          // the count of a multibulk request
    std::int64_t max_bulk = 512LL * 1024 * 1024;  // one argument (Redis: proto-max-bulk-len)
};

class RequestParser {
public:
    enum class Status { complete, incomplete, error };

    explicit RequestParser(Limits limits = {}) : limits_(limits) {}

    Status parse(std::string_view in);

    // After `complete`: the arguments (possibly none: an empty line, or "*0"), valid while
    // the input passed to parse() is, and the request's length in bytes.
    const std::vector<std::string_view>& args() const { return args_; }
    std::size_t size() const { return size_; }
    // After `error`: the reply's text, e.g. "ERR Protocol error: invalid bulk length".
    const std::string& error() const { return error_; }

    // Forgets the request just parsed; the next parse() starts at a new request.
    void next();

private:
    Status parse_inline(std::string_view in);
    Status parse_multibulk(std::string_view in);
    Status fail(std::string message);
    // The end of the line that starts at `from`: the offset of its '\r' (which a '\n'
    // follows), npos when the line is not complete yet, or an error.
    Status find_line_end(std::string_view in, std::size_t from, const char* too_long, std::size_t* cr);

    Limits limits_;
    enum class Kind { none, inline_line, multibulk } kind_ = Kind::none;
    std::size_t need_ = 0;     // parse() can make no progress before the input is this long
    std::size_t scanned_ = 0;  // bytes already searched for the current line's end
    std::size_t pos_ = 0;      // multibulk: where the next argument (or its length line) starts
    std::int64_t count_ = -1;  // multibulk: arguments announced; -1 before the count is read
    std::int64_t bulk_ = -1;   // multibulk: length of the argument being read; -1 before its line
    std::vector<std::pair<std::size_t, std::size_t>> spans_;  // multibulk: (offset, length) found so far

    std::vector<std::string_view> args_;
    std::string unquoted_;  // inline: the arguments' bytes when quoting changed them
    std::size_t size_ = 0;
    std::string error_;
};

}  // namespace redis
