#include "raw_cases.hpp"

namespace redis_test {
namespace {

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += s;
    return out;
}

// A string literal with its NUL bytes: std::string's constructor from a C string stops at one.
template <std::size_t N>
std::string bytes(const char (&s)[N]) {
    return std::string(s, N - 1);
}

std::vector<RawCase> make_cases() {
    std::vector<RawCase> cases = {
        {"inline requests with CRLF and bare LF", "PING\r\nSET a b\nGET a\r\n\r\n\nQUIT\r\n"},
        {"inline quoting and escapes",
         "SET \"a b\" \"\\x41\\n\\q\\\"\"\r\nGET \"a b\"\r\nSET 'x' 'it\\'s'\r\nGET x\r\nQUIT\r\n"},
        {"inline blanks and tabs", "  \tSET\t k  v \r\nGET k\r\nQUIT\r\n"},
        {"inline unbalanced double quote", "PING\r\nSET \"a b\r\nPING\r\n"},
        {"inline unbalanced single quote", "SET 'a b\r\n"},
        {"inline closing quote followed by a letter", "SET \"a\"b c\r\n"},
        {"mixed case command names", "pInG\r\n*1\r\n$4\r\nping\r\nQuIt\r\n"},
        {"multibulk request",
         "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nQUIT\r\n"},
        {"binary-safe multibulk arguments", bytes("*3\r\n$3\r\nSET\r\n$3\r\nk\0k\r\n$4\r\n\r\n\0\xff\r\n*"
                                                  "2\r\n$3\r\nGET\r\n$3\r\nk\0k\r\nQUIT\r\n")},
        {"empty and negative multibulk counts", "*0\r\n*-1\r\nPING\r\nQUIT\r\n"},
        {"invalid multibulk length", "PING\r\n*x\r\nPING\r\n"},
        {"multibulk count with a leading zero", "*01\r\n$4\r\nPING\r\n"},
        {"multibulk count with a plus sign", "*+1\r\n$4\r\nPING\r\n"},
        {"expected a dollar sign", "*1\r\n+PING\r\n"},
        {"negative bulk length", "*1\r\n$-5\r\n"},
        {"bulk length over 512 MB", "*1\r\n$600000000\r\n"},
        {"bulk length one over 512 MB", "*1\r\n$536870913\r\n"},
        {"inline request over 64 KiB without a newline", std::string(64 * 1024 + 10, 'a')},
        {"multibulk count line over 64 KiB", "*" + std::string(70000, '1')},
        {"bulk count line over 64 KiB", "*1\r\n$" + std::string(70000, '1')},
        {"a thousand pipelined requests in one write",
         repeat("PING\r\n", 500) + repeat("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", 500) + "QUIT\r\n"},
        {"an unknown command quoting long arguments",
         "NOSUCH " + std::string(100, 'x') + " " + std::string(100, 'y') + " z\r\nQUIT\r\n"},
        {"an unknown command with a NUL in an argument",
         bytes("*3\r\n$6\r\nNOSUCH\r\n$3\r\na\0b\r\n$1\r\nc\r\nQUIT\r\n")},
        {"wrong arity in inline and multibulk form", "GET\r\n*1\r\n$3\r\nGET\r\nSET a\r\nQUIT\r\n"},
    };

    // The documented differences. Redis takes the two bytes after a bulk's data, or the
    // byte after a line's '\r', to be the line end without looking: a wrong length then
    // makes it read the rest of an argument as new requests. It bounds an inline line only
    // while the line is incomplete, so whether 64 KiB + 1 bytes are accepted depends on
    // how they were split into reads. It looks for line ends with strchr, which stops at a
    // NUL byte, so an inline request holding one is never answered. And Redis 7 accepts
    // multibulk counts up to 2^31 - 1, where Redis up to 6.0 (and the limit here) is 1048576.
    const std::string protocol_error = "-ERR Protocol error: ";
    cases.push_back({"a bulk one byte longer than its length", "*2\r\n$4\r\nECHO\r\n$2\r\nabc\r\nQUIT\r\n",
                     3000, "$2\r\nab\r\n+OK\r\n[closed]",
                     protocol_error + "expected '\\r\\n' after bulk data\r\n[closed]"});
    cases.push_back({"bulk data not followed by CRLF", "*1\r\n$4\r\nPINGxx*1\r\n$4\r\nQUIT\r\n", 3000,
                     "+PONG\r\n+OK\r\n[closed]",
                     protocol_error + "expected '\\r\\n' after bulk data\r\n[closed]"});
    cases.push_back({"a stray byte after CR in a count line", "*1\rX$4\r\nPING\r\nQUIT\r\n", 3000,
                     "+PONG\r\n+OK\r\n[closed]", protocol_error + "expected '\\n' after '\\r'\r\n[closed]"});
    cases.push_back({"an inline line of 64 KiB and one byte sent whole",
                     std::string(64 * 1024 + 1, 'a') + "\r\nQUIT\r\n", 3000,
                     "-ERR unknown command '" + std::string(128, 'a') +
                         "', with args beginning with: \r\n+OK\r\n[closed]",
                     protocol_error + "too big inline request\r\n[closed]"});
    cases.push_back({"an inline request holding a NUL byte", bytes("PING\0 x\r\nQUIT\r\n"), 500, "[open]",
                     "+PONG\r\n+OK\r\n[closed]"});
    cases.push_back({"a multibulk count of 1048577", "*1048577\r\n", 500, "[open]",
                     protocol_error + "invalid multibulk length\r\n[closed]"});
    // Redis drops a connection that sends "POST" or "Host:" (a browser led to its port)
    // together with the replies it had not sent yet; here the requests before it are
    // answered, so that the answer does not depend on how the input was split into reads.
    cases.push_back({"an HTTP request: what came before Host: is answered, then the connection drops",
                     "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 3000, "[closed]",
                     "-ERR wrong number of arguments for 'get' command\r\n[closed]"});
    cases.push_back({"POST drops the connection after the replies before it",
                     "PING\r\nPOST / HTTP/1.1\r\nPING\r\n", 3000, "[closed]", "+PONG\r\n[closed]"});
    return cases;
}

}  // namespace

const std::vector<RawCase>& raw_cases() {
    static const std::vector<RawCase> cases = make_cases();
    return cases;
}

}  // namespace redis_test
