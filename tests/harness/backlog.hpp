// Echo the server holds: where the bytes of a client that sends and reads nothing back are,
// and a way to fill the path back to it until the server must keep some echo in its memory.
#pragma once

#include <cstdint>
#include <string>

#include "harness/conn.hpp"
#include "harness/pattern.hpp"
#include "harness/server.hpp"
#include "harness/time.hpp"

namespace harness {

// The bytes are in our send queue, unread at the server, in the server's own memory, in its
// send queue, or in our receive queue. The kernel reports all but the server's memory, so
// that part is what is left: `held`. A blocking server holds what its blocked write() has
// not taken yet; an event-driven one its output buffer.
struct Backlog {
    std::uint64_t sent = 0;  // bytes the client has sent; none read back
    std::uint64_t held = 0;  // read by the server and not yet written to its socket
    bool observed = false;   // the far end was found, so `held` means something
    bool asleep = false;     // the server slept throughout (taken as true with --address)
    bool settled = false;    // two looks a moment apart agreed (settle() only)
    std::uint64_t our_unacked = 0, our_unread = 0;
    FarEnd far{};
    std::string describe() const;  // one line, for assertion messages
};

// Looks until two looks a moment apart agree, nothing the server sent is waiting for the
// client's (possibly delayed) acknowledgement, and the server (when given) slept through
// both looks; or until the deadline passes: then `settled` is false. `sent`: what the
// client has sent.
Backlog settle(Conn& conn, std::uint64_t sent, Server* server, Deadline deadline,
               Duration quiet = milliseconds(2));

// Sends `pattern` from offset 0 on a fresh connection, reading nothing back, until the
// server holds echo it cannot write because the way back is full (its send buffer and our
// receive buffer): a blocking server is then stuck in write(), an event-driven one has
// output queued. Stops as soon as it sees that, so little input is left unread. Without a
// far end to look at, sends until nothing goes out for 200 ms (scaled) instead. Throws when
// the server dies, or takes 256 MiB without ever holding any echo back.
Backlog fill_until_held(Conn& conn, const Pattern& pattern, Server* server, Deadline deadline = {});

// Sends our FIN (shutdown(SHUT_WR)) and waits, reading nothing, until the server has dealt
// with it: its kernel has the FIN, or the FIN waits behind input the server is not reading,
// and the server has settled again. Then an event-driven server has read the EOF.
Backlog half_close_and_settle(Conn& conn, std::uint64_t sent, Server* server, Deadline deadline = {});

}  // namespace harness
