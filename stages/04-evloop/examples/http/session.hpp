// One connection's HTTP/1.1 conversation, apart from the network: input goes in, replies
// come out, in order. server.cpp connects it to evloop; the tests and the fuzz target
// drive it directly, cutting the input wherever they like.
//
// The contract with whoever drives it:
//   - on_input() is shown everything received and not yet consumed, oldest byte first
//     (what the server keeps with Conn::keep comes back at the front of the next event).
//   - It answers every complete request there and stops at the first incomplete one, or
//     when `out` has reached `budget` bytes, or at a file too large to append at once
//     (then body_pending(): pump() appends the rest a chunk at a time as output drains).
//     The caller sends `out` in one write: the replies of one read leave together.
//   - After `close`, nothing more is read: the caller sends `out` and closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "body.hpp"
#include "dates.hpp"
#include "request.hpp"
#include "response.hpp"
#include "site.hpp"

namespace http {

struct Config {
    const Site* site = nullptr;
    const Clock* clock = nullptr;
    Limits limits{};
    // A file larger than this is sent a chunk at a time; a smaller one goes out with its
    // head in the same write.
    std::size_t chunk = 64 << 10;
};

class Session {
public:
    explicit Session(const Config& config) : config_(config) {}

    struct Result {
        std::size_t consumed = 0;  // bytes of `in` finished with; present the rest again
        bool close = false;        // send `out`, then close the connection
        bool stalled = false;      // stopped for output, not input: call again once it drains
    };
    Result on_input(std::string_view in, std::string& out, std::size_t budget);

    bool body_pending() const { return static_cast<bool>(body_.fd); }
    // Appends up to `max` more bytes of the pending body. False when the file ended before
    // the length its head announced (it shrank while being sent): the connection must close,
    // so the client sees a short body, the one way left to say the reply failed.
    bool pump(std::string& out, std::size_t max);
    // After the pending body, the connection closes (Connection: close, or HTTP/1.0).
    bool close_after_body() const { return close_after_body_; }

    // A request has begun and not fully arrived (its head, or a body being discarded), and
    // how many have fully arrived so far: what a timer needs to tell a slow request from a
    // stalled client that sends nothing at all.
    bool mid_request() const { return scan_.pos > 0 || request_body_.active(); }
    std::uint64_t requests() const { return requests_; }
    // The request took too long to arrive: appends a 408; the caller closes.
    void time_out(std::string& out) { fail(408, out); }

private:
    struct Reply {
        Head head;
        File file;
        bool send_body = false;       // false for HEAD, 304 and a closing error after Expect
        std::string page;             // the body of an error reply or a redirect
        std::string location, query;  // a redirect's, copied: the request's bytes are gone by then
    };
    void prepare(const Request& request, Reply* reply);
    void emit(Reply& reply, std::string& out);
    void fail(int status, std::string& out);
    static Reply error_reply(int status, bool close);
    bool read_file(const File& file, std::uint64_t offset, std::size_t n, std::string& out);

    const Config& config_;
    HeadScan scan_{};
    BodyReader request_body_;  // a request body being discarded
    Reply waiting_;            // the reply to the request whose body is being discarded
    File body_;                // a file being sent a chunk at a time
    std::uint64_t body_offset_ = 0;
    bool close_after_body_ = false;
    std::uint64_t requests_ = 0;
    std::string path_;  // decoding space, reused
};

}  // namespace http
