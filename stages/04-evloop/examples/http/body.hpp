// A request body, read and thrown away. A static file server has no use for one, but it
// must still find where the body ends, or the body's bytes would be read as the next
// request. Content-Length bytes are skipped; the chunked coding (RFC 9112 section 7.1) is
// followed through its sizes, extensions and trailer fields. It consumes whatever it is
// given and keeps nothing (a chunk-size line split across reads is carried as state, not
// as bytes), so a body costs no memory however it is cut up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "request.hpp"

namespace http {

class BodyReader {
public:
    void start(const Request& request);
    bool active() const { return state_ != State::idle; }

    struct Step {
        std::size_t used = 0;  // bytes of `in` that belonged to the body
        bool done = false;     // the body ended; the next byte starts the next request
        int status = 0;        // refused: 400 (malformed chunks), 413 (over limits.body), 431 (trailers)
    };
    Step consume(std::string_view in, const Limits& limits);

private:
    enum class State {
        idle,
        length,    // Content-Length bytes
        size,      // the chunk size's hex digits
        size_ws,   // whitespace after them, before a ';'
        ext,       // chunk extensions, up to the line end
        size_lf,   // the LF of the size line's CRLF
        data,      // chunk data
        data_end,  // the CRLF after it
        data_lf,
        trailer,  // the start of a trailer field line, or of the final empty line
        field,    // the rest of a trailer field line
        field_lf,
        end_lf,  // the LF of the final CRLF
    };
    Step fail(std::size_t used, int status);
    int size_line_done(const Limits& limits);

    State state_ = State::idle;
    std::uint64_t remaining_ = 0;  // of the Content-Length, or of the current chunk
    std::uint64_t total_ = 0;      // chunk data so far
    std::size_t line_ = 0;         // bytes of the current chunk-size line, or of all trailer fields
    int digits_ = 0;               // of the current chunk size
};

}  // namespace http
