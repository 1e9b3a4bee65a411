// RESP2 replies, appended to the batch that leaves in one write. Every reply of one read
// goes into the same std::string, so these are appends and nothing else.
//
//   +OK            simple string      $5 hello       bulk string ($-1: the null bulk)
//   -ERR reason    error              *2 ...         array of n replies (*-1: null array)
//   :42            integer
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "numbers.hpp"

namespace redis::reply {

inline constexpr std::string_view crlf = "\r\n";

inline void simple(std::string& out, std::string_view s) {
    out += '+';
    out += s;
    out += crlf;
}

inline void ok(std::string& out) {
    out += "+OK\r\n";
}

// `message` starts with the error code ("ERR ...", "WRONGTYPE ..."). A CR or LF in it
// would end the reply early and desynchronise the client, and messages quote what the
// client sent, so both become spaces, as Redis does.
inline void error(std::string& out, std::string_view message) {
    out += '-';
    for (char c : message)
        out += (c == '\r' || c == '\n') ? ' ' : c;
    out += crlf;
}

inline void integer(std::string& out, std::int64_t n) {
    out += ':';
    append_int(out, n);
    out += crlf;
}

inline void bulk(std::string& out, std::string_view s) {
    out += '$';
    append_int(out, static_cast<std::int64_t>(s.size()));
    out += crlf;
    out += s;
    out += crlf;
}

inline void null(std::string& out) {
    out += "$-1\r\n";
}

inline void array(std::string& out, std::size_t n) {
    out += '*';
    append_int(out, static_cast<std::int64_t>(n));
    out += crlf;
}

}  // namespace redis::reply
