// The scale tier: thousands of connections at once, in a ramp or all together, and tens of
// thousands in a row. The clients come from one harness::Swarm thread; the harness has
// already raised its own soft descriptor limit to the hard one, and the server inherits it.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "harness.hpp"

using namespace std::chrono_literals;
using harness::Deadline;
using harness::scaled;
using harness::Step;
using harness::within;

namespace {

constexpr std::size_t kMiB = 1024 * 1024;

}  // namespace

TEST_SUITE("scale") {
    TEST_CASE("1000 connections ramped up do 10 echoes each with a p99 round trip under 50 ms" *
              doctest::description("serial")) {
        harness::Case c({.limit = 30s});
        if (c.skipped()) return;
        const auto bound = scaled(50ms);
        harness::Swarm swarm(c.address());
        // 2000 connects a second: all 1000 are open together for most of the run.
        for (int i = 0; i < 1000; ++i) {
            harness::Script s;
            for (int k = 0; k < 10; ++k) {
                s.steps.push_back(Step::round_trip(64));
                s.steps.push_back(Step::wait(50ms));
            }
            swarm.add(s);
        }
        auto r = swarm.run({.connects_per_second = 2000, .deadline = within(6s)});
        MESSAGE(r.describe() << "; peak open " << r.peak_open);
        REQUIRE_MESSAGE(r.ok(), r.describe());
        CHECK_MESSAGE(r.round_trips.percentile(99) < bound,
                      "p99 round trip " << harness::to_ms(r.round_trips.percentile(99)) << " ms, over "
                                        << bound.count() << " ms");
    }

    TEST_CASE("10000 concurrent connections are all served with zero failures and server RSS under 512 MiB") {
        harness::Case c({.limit = 40s, .needs_own_server = true});
        if (c.skipped()) return;
        constexpr int kClients = 10000;
        harness::Swarm swarm(c.address());
        // Each client is echoed once as it arrives, holds its connection until every other
        // client has connected (5000 connects a second: 2 s), and is echoed again.
        for (int i = 0; i < kClients; ++i)
            swarm.add({.steps = {Step::round_trip(32), Step::wait(3s), Step::round_trip(32)}});
        std::size_t rss_peak = 0;
        auto* server = c.server();
        swarm.on_tick([&] {
            rss_peak = std::max(rss_peak, server->rss_bytes());
            return true;
        });
        auto r = swarm.run({.connects_per_second = 5000, .deadline = within(10s)});
        MESSAGE(r.describe() << "; peak open " << r.peak_open << "; server RSS peak " << rss_peak / kMiB
                             << " MiB; connects " << r.connects.summary());
        CHECK_MESSAGE(r.ok(), r.describe());
        CHECK_MESSAGE(r.peak_open == static_cast<std::size_t>(kClients),
                      "only " << r.peak_open << " connections were open at once");
        CHECK_MESSAGE(rss_peak < 512 * kMiB, "server RSS peaked at " << rss_peak / kMiB << " MiB");
    }

    TEST_CASE("2000 connects with no ramp are all echoed and the slowest connect takes under 1 s" *
              doctest::description("serial")) {
        harness::Case c({.limit = 30s});
        if (c.skipped()) return;
        const auto bound = scaled(1000ms);
        harness::Swarm swarm(c.address());
        // All at once: a server that is slow to accept overflows its listen queue, and a
        // dropped SYN is retried only after a second (tcp(7), tcp_syn_retries).
        for (int i = 0; i < 2000; ++i)
            swarm.add({.steps = {Step::round_trip(64), Step::close()}});
        auto r = swarm.run({.deadline = within(15s)});
        MESSAGE(r.describe() << "; connects " << r.connects.summary());
        REQUIRE_MESSAGE(r.ok(), r.describe());
        CHECK_MESSAGE(r.connects.max() < bound,
                      "the slowest connect took " << harness::to_ms(r.connects.max()) << " ms");
    }

    TEST_CASE("20000 short connections closed by reset leave the fd count at its baseline") {
        harness::Case c({.limit = 60s});
        if (c.skipped()) return;
        harness::Swarm swarm(c.address());
        for (int i = 0; i < 20000; ++i)
            swarm.add({.steps = {Step::round_trip(16), Step::reset()}});
        auto r = swarm.run({.max_open = 500, .deadline = within(30s)});
        MESSAGE(r.describe());
        CHECK_MESSAGE(r.ok(), r.describe());
        if (c.server()) {
            int now = c.wait_for_fd_baseline();
            CHECK_MESSAGE(now <= c.baseline_fds(), "the server holds " << now << " descriptors, "
                                                                       << now - c.baseline_fds()
                                                                       << " more than before the case");
        }
    }
}
