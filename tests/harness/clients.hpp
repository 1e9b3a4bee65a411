// Clients that misbehave on purpose, each a few steps a case names in one line: reset while
// the server still holds our echo, reset before it has read anything, urgent data, and the
// random clients of the soak.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

#include "common/address.hpp"
#include "harness/conn.hpp"
#include "harness/pattern.hpp"
#include "harness/server.hpp"
#include "harness/swarm.hpp"

namespace harness {

// For event-driven servers: fills the way back until the server holds echo it cannot write,
// half-closes, and resets once the server has read the EOF, so the server still has output
// queued when the reset closes the connection. (A blocking server slips out: the FIN wakes
// its write, which finds room for what it holds.)
void reset_while_server_holds_echo(const common::Address& address, Server* server, std::uint64_t seed);

// For blocking servers: the client's bytes, its FIN and its reset all reach the server's
// kernel before the server reads any of them, because it is busy with another client (one
// client at a time) or stopped (SIGSTOP, when `server` is given). Linux hands out queued bytes
// before the error, so the echo of those bytes is the first write to the reset connection.
void reset_before_server_reads(const common::Address& address, Server* server, std::uint64_t seed);

// Receives the echo of pattern bytes [offset, offset + n) that were sent with one urgent byte
// (MSG_OOB) after the first `before` of them. The urgent byte is out of band unless the
// server asked for it inline (SO_OOBINLINE, tcp(7)), and then it is skipped at its place;
// either way every pattern byte must come back in order. Throws Failure otherwise.
void recv_around_urgent(Conn& conn, const Pattern& pattern, std::uint64_t offset, std::size_t n,
                        std::size_t before, std::uint8_t urgent, Deadline deadline);

// One random client for the soak: a random amount (0 to 1 MiB, mostly small) in random
// pieces with random pauses, then one of the ways a client can end: the whole echo then FIN,
// a half-close and a clean EOF, a reset part way, abandoning the echo unread, or sitting idle.
Script random_script(std::mt19937_64& rng);

}  // namespace harness
