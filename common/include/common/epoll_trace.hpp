// --trace output for the epoll stages (02 and 03): one line per epoll_wait return.
// Linux only; stage 04 traces through its own poller.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <string>

namespace common {

// "IN|OUT|HUP": the bits of an event mask, by their epoll.h names without EPOLL.
std::string event_names(std::uint32_t events);

// "epoll_wait -> 2 events: fd 5 IN, fd 7 IN|HUP", when --trace is on. The fd printed is
// the low 32 bits of each event's data, which is where every stage puts it.
void trace_batch(const epoll_event* events, int n);

}  // namespace common
