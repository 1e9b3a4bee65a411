// One connection's side of the protocol, with no event loop in sight: bytes in, replies
// out. The server feeds it whatever a data event presents; the fuzz target and the unit
// tests feed it the same bytes split in every way they like.
//
//   Session s(server);
//   auto r = s.feed(in, out, budget);  // handles every complete request at the front of `in`
//   // r.consumed bytes are done with; keep the rest (a partial request) for next time.
//
// feed() stops early when `out` has grown to `budget` bytes, so that one read full of
// requests for large values cannot make one reply batch (and the memory behind it) grow
// without bound: the caller writes the batch, and calls again while the peer keeps up.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "commands.hpp"
#include "parser.hpp"

namespace redis {

class Session {
public:
    explicit Session(Server& server);

    enum class Next {
        more_input,   // every complete request is answered; what is left is a partial one
        output_full,  // `out` reached the budget: write it, then call again with the rest
        close,        // the connection ends once `out` is written (QUIT, a protocol error)
    };
    struct Result {
        std::size_t consumed = 0;
        Next next = Next::more_input;
    };
    Result feed(std::string_view in, std::string& out, std::size_t budget);

    const Client& client() const { return client_; }

private:
    Server& server_;
    RequestParser parser_;
    Client client_;
};

}  // namespace redis
