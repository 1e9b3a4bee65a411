// The relay's callbacks: what turns an evloop Server into stage04-proxy. Each accepted
// client is paired with a connection of its own to the backend, dialled from the client's
// loop, and the pair is two byte streams, one each way, that the relay copies in order:
//
//     client --read--> [relay] --write--> backend      (reading the client follows the
//     client <-write-- [relay] <--read--- backend       backend's output, and back)
//
// What the relay has to get right, each in one callback of relay.cpp:
//  - backpressure across the pair: reading one side stops while the other side's output is
//    above the high water mark and starts again at the low one (Events::drained), so a
//    side that never reads costs about high_water plus one read, never more;
//  - the half-close both ways: a FIN read on one side becomes shutdown(SHUT_WR) on the
//    other once its output is sent, and the pair closes when both directions are done;
//  - a reset (or any broken ending) on one side resets the other, so the far end never
//    takes a truncated stream for a complete one;
//  - the client's first bytes wait in its kernel buffer until the backend is connected; a
//    backend that refuses or does not answer closes the client, with one line on stderr.
//
// What it leaves to the library: a side that has read its peer's FIN is half-closed, and
// Options::close_timeout (30 s) bounds that state like any other half-close, counted from
// the last byte that moved: a transfer that goes on after one side's FIN lives as long as
// it makes progress; one that stalls for 30 s is cut, and both sides reset.
#pragma once

#include <chrono>
#include <string>

#include "evloop/evloop.hpp"

namespace proxy {

struct RelayOptions {
    std::string to;  // the backend's URL, already checked (a stream address, a real port)
    evloop::Duration connect_timeout = std::chrono::seconds(5);
    std::size_t high_water = 1 << 20;  // evloop::Options::high_water: the bound on each side's output
};

// The callbacks a Server needs to relay every accepted connection to options.to.
evloop::Events relay_events(const RelayOptions& options);

}  // namespace proxy
