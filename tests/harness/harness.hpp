// The test-support library: everything a black-box test of an echo server needs, and nothing
// about any particular stage. The conformance suite, echo-bench and the unit tests link it.
// One header per subject; this one includes them all, for the case files.
//
//   time.hpp       time bounds scaled by EVLOOP_TEST_TIME_SCALE, deadlines, harness::Failure
//   pattern.hpp    the position-dependent byte stream every client sends, and its checker
//   latencies.hpp  percentiles from a histogram (latency bounds, benchmark reports)
//   proc.hpp       a process's CPU time, RSS, descriptors and state, from /proc
//   server.hpp     starting a contract server, reading its "listening on" lines, stopping it
//   case.hpp       one case's frame: target, watchdog, the end-of-case checks
//   conn.hpp       one client connection with bounded waits; round trips; "still serving?"
//   exchange.hpp   one full-duplex patterned stream, every byte verified
//   backlog.hpp    where unread echo is, and filling the way back until the server holds some
//   driver.hpp     many non-blocking clients on one epoll thread (under swarm and echo-bench)
//   swarm.hpp      scripted clients by the thousand
//   clients.hpp    clients that misbehave on purpose; the soak's random clients
//   udp.hpp        a UDP client and the datagram echo check
//   addresses.hpp  unix socket paths of our own, a port free on both stacks
//
// Writing a case (tests/conformance/cases_<tier>.cpp, one file per tier, picked up by a glob):
//
//   TEST_SUITE("scale") {
//       TEST_CASE("1000 ramped connections each echo 10 times with p99 under 50 ms") {
//           Case c({.limit = std::chrono::seconds(20)});
//           if (c.skipped()) return;
//           ...
//       }
//   }
//
// The full name is "tier: sentence" (the suite, a colon, the test case): no commas,
// semicolons or brackets, which doctest filters and CMake lists split on. The sentence says
// what the server must do, and the case's assertions check exactly that. A case that
// starts, signals or limits the server sets needs_own_server (or nofile_*), so that it is
// skipped, with a message, when the suite tests an already running server (--address).
//
// Markers are words in the case's doctest description, one decorator per case:
//
//   TEST_CASE("a firehose client leaves a probe a p99 round trip under 50 ms" *
//             doctest::description("serial")) { ... }
//
//   slow     it may take over 10 s: CTest label `slow` (left out of the main job) and a
//            longer CTest timeout.
//   serial   its pass criterion is a measurement that another test's load can break: a
//            latency percentile or a bound of about 2 s or less on how long something takes,
//            or a share of a CPU. CTest runs it alone (RUN_SERIAL), never beside another
//            case. A deadline that only bounds a wait (within(2s) for an echo) is not one.
//   Both:    doctest::description("slow serial").
// echo-conformance --list-cases shows them as " [slow]" and " [serial]" after the name.
//
// doctest 2.4 prints a `const char*` streamed into a message as a pointer: wrap C strings
// in std::string (e.g. `MESSAGE("got " << std::string(f.what()))`).
//
// Failures inside helpers throw harness::Failure (doctest reports the message). Every wait
// is bounded: by the deadline the caller passes, and always by the case's watchdog deadline.
#pragma once

#include <cstddef>

#include "harness/addresses.hpp"
#include "harness/backlog.hpp"
#include "harness/case.hpp"
#include "harness/clients.hpp"
#include "harness/conn.hpp"
#include "harness/exchange.hpp"
#include "harness/latencies.hpp"
#include "harness/pattern.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "harness/swarm.hpp"
#include "harness/time.hpp"
#include "harness/udp.hpp"

namespace harness {

inline constexpr std::size_t kMiB = 1024 * 1024;

}  // namespace harness
