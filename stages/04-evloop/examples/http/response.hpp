// Writing a reply's head: the status line and the header fields every reply carries.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace http {

struct Head {
    int status = 200;
    std::string_view type;  // Content-Type; empty: none
    std::uint64_t length = 0;
    bool has_length = true;     // false for 304, which has no body to measure
    std::time_t modified = -1;  // Last-Modified; -1: none
    std::string_view location;  // 301: the path as the client sent it, without its slash
    std::string_view query;     // 301: kept on the redirect
    bool allow = false;         // 405: Allow: GET, HEAD
    bool close = false;         // Connection: close
    bool keep_alive = false;    // Connection: keep-alive, for an HTTP/1.0 client that asked
};

std::string_view reason(int status);  // "Not Found"

// Appends the head, its blank line included. `date` is the Date field's value.
void append_head(std::string& out, const Head& head, std::string_view date);

// The body of an error reply, a short HTML page that names the status.
std::string error_body(int status);

}  // namespace http
