// stage04-redis's event callbacks: how a byte stream on an evloop connection becomes
// requests and replies. The protocol itself is Session's; this file is about framing on
// the loop: keeping a partial request for the next read, batching a read's replies into
// one write, and pausing a client whose replies are not being read.
#pragma once

#include <cstddef>

#include "commands.hpp"
#include "evloop/evloop.hpp"

namespace redis {

struct ServeOptions {
    std::size_t batch_budget = 1 << 20;  // replies gathered before a write when a read holds many
    std::size_t low_water = 256 << 10;   // evloop::Options' low water mark: pause above it
    int loops = 1;                       // more than one: the keyspace is shared under a lock
};

// The callbacks, bound to `server` (which must outlive the evloop::Server using them).
evloop::Events make_events(Server& server, const ServeOptions& options);

}  // namespace redis
