#include "response.hpp"

#include <charconv>

#include "dates.hpp"

namespace http {

std::string_view reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 301:
            return "Moved Permanently";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

void append_head(std::string& out, const Head& h, std::string_view date) {
    char number[24];
    auto digits = [&](std::uint64_t n) {
        auto end = std::to_chars(number, number + sizeof number, n).ptr;
        return std::string_view(number, static_cast<std::size_t>(end - number));
    };
    // A server sends the highest HTTP/1.x it speaks, whatever the request's minor version
    // (RFC 9110 section 6.2).
    out += "HTTP/1.1 ";
    out += digits(static_cast<std::uint64_t>(h.status));
    out += ' ';
    out += reason(h.status);
    out += "\r\nServer: stage04-http\r\nDate: ";
    out += date;
    if (!h.type.empty()) {
        out += "\r\nContent-Type: ";
        out += h.type;
    }
    if (h.has_length) {
        out += "\r\nContent-Length: ";
        out += digits(h.length);
    }
    if (h.modified >= 0) {
        // One reply after another names the same file: format its time once.
        thread_local std::time_t formatted = -1;
        thread_local char text[kDateLength + 1];
        if (h.modified != formatted) format_date(formatted = h.modified, text);
        out += "\r\nLast-Modified: ";
        out.append(text, kDateLength);
    }
    if (!h.location.empty()) {
        out += "\r\nLocation: ";
        out += h.location;
        out += '/';
        if (!h.query.empty()) {
            out += '?';
            out += h.query;
        }
    }
    if (h.allow) out += "\r\nAllow: GET, HEAD";
    if (h.close)
        out += "\r\nConnection: close";
    else if (h.keep_alive)
        out += "\r\nConnection: keep-alive";
    out += "\r\n\r\n";
}

std::string error_body(int status) {
    std::string title = std::to_string(status) + " " + std::string(reason(status));
    return "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head><body><h1>" + title +
           "</h1></body></html>\n";
}

}  // namespace http
