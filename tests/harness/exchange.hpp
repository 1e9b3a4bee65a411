// One full-duplex patterned stream over a connection: how a client verifies bytes when it
// sends more than the server could ever buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "harness/conn.hpp"
#include "harness/time.hpp"

namespace harness {

struct ExchangeOptions {
    std::uint64_t bytes = 0;        // how much to send
    std::uint64_t seed = 1;         // Pattern seed
    std::size_t chunk = 64 * 1024;  // bytes per send() at most
    // Stop sending while this many bytes are in flight (sent and not yet echoed);
    // 0 = no limit. Keeps a reader from depending on the server's buffering.
    std::uint64_t max_in_flight = 0;
    bool shutdown_after_send = false;  // SHUT_WR once everything is sent
    bool expect_eof = false;           // after the echo, the server must close cleanly
    Deadline deadline{};
    // Continuing a stream: the pattern offset of this exchange's first byte (what was
    // exchanged before on the connection), and how many of `bytes` the caller has already
    // sent (e.g. with send_now) without reading their echo.
    std::uint64_t offset = 0;
    std::uint64_t already_sent = 0;
};

struct ExchangeResult {
    std::uint64_t sent = 0;                  // of `bytes`, including already_sent
    std::uint64_t received = 0;              // verified bytes of `bytes`
    std::optional<std::uint64_t> first_bad;  // first wrong offset in the stream
    bool completed = false;                  // all bytes echoed byte-exact (and EOF seen if asked)
    std::string error;                       // what went wrong, for the assertion message
    Duration elapsed{};
    bool ok() const { return completed && !first_bad && error.empty(); }
    std::string describe() const;  // one line: sent, received, first bad offset, error
};

// Writes `bytes` of Pattern(seed) while reading the echo and checking every byte, with a
// single poll() loop (no threads), so it never relies on the server buffering everything.
ExchangeResult exchange(Conn& conn, const ExchangeOptions& options);

}  // namespace harness
