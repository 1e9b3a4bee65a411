// The request parser on its own: both request forms, every split point, and each limit.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "parser.hpp"

namespace {

using redis::RequestParser;
using Status = RequestParser::Status;

// Parses `bytes` presented the way a connection presents them: growing by `step` bytes
// per data event, the unconsumed part first. Returns every request's arguments.
std::vector<std::vector<std::string>> parse_all(const std::string& bytes, std::size_t step,
                                                std::string* error = nullptr) {
    RequestParser parser;
    std::vector<std::vector<std::string>> requests;
    std::size_t start = 0;  // first unconsumed byte
    for (std::size_t have = std::min(step, bytes.size());; have = std::min(have + step, bytes.size())) {
        for (;;) {
            std::string_view in(bytes.data() + start, have - start);
            Status s = parser.parse(in);
            if (s == Status::error) {
                if (error) *error = parser.error();
                return requests;
            }
            if (s == Status::incomplete) break;
            requests.emplace_back(parser.args().begin(), parser.args().end());
            start += parser.size();
            parser.next();
        }
        if (have == bytes.size()) return requests;
    }
}

std::string error_of(const std::string& bytes, std::size_t step = 1 << 30) {
    std::string error;
    parse_all(bytes, step, &error);
    return error;
}

}  // namespace

TEST_CASE("parser: a multibulk request split at every byte gives the same binary-safe arguments") {
    std::string value("a\0b\r\nc", 6);
    std::string bytes = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\n" + value + "\r\n*1\r\n$4\r\nPING\r\n";
    std::vector<std::vector<std::string>> want{{"SET", "k", value}, {"PING"}};
    for (std::size_t step = 1; step <= bytes.size(); ++step) {
        CAPTURE(step);
        CHECK(parse_all(bytes, step) == want);
    }
}

TEST_CASE("parser: inline requests split at blanks and decode quotes as Redis does") {
    CHECK(parse_all("SET k v\r\n", 1) == std::vector<std::vector<std::string>>{{"SET", "k", "v"}});
    CHECK(parse_all("  PING  \n", 3) == std::vector<std::vector<std::string>>{{"PING"}});
    CHECK(parse_all("a\vb c\n", 1) == std::vector<std::vector<std::string>>{{"a\vb", "c"}});
    CHECK(parse_all("SET \"a b\\n\\x41\\q\" 'it\\'s'\r\n", 2) ==
          std::vector<std::vector<std::string>>{{"SET", "a b\nAq", "it's"}});
    CHECK(parse_all("x\"y z\"w\n", 1).empty());  // a closing quote must end the word: an error
    CHECK(parse_all("ab\"cd\" e\n", 1) == std::vector<std::vector<std::string>>{{"abcd", "e"}});
    CHECK(parse_all("\r\n\n", 1) ==
          std::vector<std::vector<std::string>>{{}, {}});  // empty lines: no arguments
    CHECK(parse_all(std::string("GET k\0junk\n", 11), 1) ==
          std::vector<std::vector<std::string>>{{"GET", "k"}});
}

TEST_CASE("parser: unbalanced quotes are a protocol error in Redis's words") {
    CHECK(error_of("SET \"k v\r\n") == "ERR Protocol error: unbalanced quotes in request");
    CHECK(error_of("SET 'k\n") == "ERR Protocol error: unbalanced quotes in request");
    CHECK(error_of("SET \"k\"v\n") == "ERR Protocol error: unbalanced quotes in request");
}

TEST_CASE("parser: zero and negative multibulk counts are empty requests") {
    CHECK(parse_all("*0\r\n*-1\r\n*1\r\n$0\r\n\r\n", 1) ==
          std::vector<std::vector<std::string>>{{}, {}, {""}});
}

TEST_CASE("parser: malformed multibulk framing gets Redis's protocol errors") {
    CHECK(error_of("*x\r\n") == "ERR Protocol error: invalid multibulk length");
    CHECK(error_of("*01\r\n") == "ERR Protocol error: invalid multibulk length");
    CHECK(error_of("*1\r\n$-1\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(error_of("*1\r\n$ 3\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(error_of("*2\r\n$1\r\na\r\nPING\r\n") == "ERR Protocol error: expected '$', got 'P'");
    // Found at once, before the rest of the line is there.
    CHECK(error_of("*1\r\n:", 1) == "ERR Protocol error: expected '$', got ':'");
}

TEST_CASE("parser: a stray byte where CRLF belongs is an error rather than skipped as Redis does") {
    CHECK(error_of("*1\rX$4\r\nPING\r\n") == "ERR Protocol error: expected '\\n' after '\\r'");
    CHECK(error_of("*1\r\n$3\r\nPINGX\r\n") == "ERR Protocol error: expected '\\r\\n' after bulk data");
}

TEST_CASE("parser: an inline line over 64 KiB is refused whether or not its newline has arrived") {
    std::string at_limit(64 * 1024, 'a');
    CHECK(parse_all(at_limit + "\n", 4096).size() == 1);
    std::string over(64 * 1024 + 1, 'a');
    CHECK(error_of(over) == "ERR Protocol error: too big inline request");                 // no newline yet
    CHECK(error_of(over + "\r\n") == "ERR Protocol error: too big inline request");        // all in one read
    CHECK(error_of(over + "\r\n", 1000) == "ERR Protocol error: too big inline request");  // in many
}

TEST_CASE("parser: count lines longer than 64 KiB are refused with Redis's messages") {
    std::string digits(64 * 1024 + 1, '1');
    CHECK(error_of("*" + digits) == "ERR Protocol error: too big mbulk count string");
    CHECK(error_of("*1\r\n$" + digits) == "ERR Protocol error: too big bulk count string");
    CHECK(error_of("*1\r\n$" + digits + "\r\n") == "ERR Protocol error: too big bulk count string");
}

TEST_CASE("parser: a multibulk count over 1048576 is refused and 1048576 itself is accepted") {
    CHECK(error_of("*1048577\r\n") == "ERR Protocol error: invalid multibulk length");
    CHECK(error_of("*1048576\r\n").empty());  // waits for its arguments
}

TEST_CASE("parser: a bulk length over 512 MB is refused before any of the bulk arrives") {
    CHECK(error_of("*1\r\n$536870913\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(error_of("*1\r\n$600000000\r\n") == "ERR Protocol error: invalid bulk length");
    CHECK(error_of("*1\r\n$536870912\r\n").empty());  // at the limit: waits for the bytes
    RequestParser small({.max_bulk = 10});
    CHECK(small.parse("*1\r\n$11\r\n") == Status::error);
}

TEST_CASE("parser: 100000 arguments arriving one byte per read are parsed without starting over") {
    // Parsing from the start at every read would cost about 3e10 steps here and time out.
    std::string bytes = "*100000\r\n";
    for (int i = 0; i < 100000; ++i)
        bytes += "$1\r\nx\r\n";
    auto requests = parse_all(bytes, 1);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].size() == 100000);
}

TEST_CASE("parser: a 1 MiB argument arriving one byte per read comes out whole") {
    std::string value(1 << 20, 'v');
    std::string bytes = "*1\r\n$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
    auto requests = parse_all(bytes, 1);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0][0] == value);
}
