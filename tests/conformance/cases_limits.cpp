// Limits a production server needs and evio and gnet lack: a connection cap, idle
// timeouts, a descriptor limit raised at start, and UDP floods that must not starve TCP.
// The cases that pass --max-conns or --idle-timeout need stage 04's flags.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using harness::Clock;
using harness::Conn;
using harness::Deadline;
using harness::Pattern;
using harness::scaled;
using harness::Step;
using harness::within;

namespace {

std::unique_ptr<harness::Server> start_with(harness::Case& c, std::vector<std::string> extra) {
    auto options = c.server_options();
    options.args.insert(options.args.end(), extra.begin(), extra.end());
    return c.start_server(options);
}

}  // namespace

TEST_SUITE("robustness") {
    TEST_CASE(
        "with --max-conns 100 the 101st client gets EOF within 1 s and a new one is served after one "
        "leaves" *
        doctest::description("serial")) {
        // Started in the body: a server that rejects the flag fails the case, not the harness.
        harness::Case c({.limit = 20s, .needs_own_server = true, .start_server = false});
        if (c.skipped()) return;
        auto server = start_with(c, {"--max-conns", "100"});
        std::vector<Conn> held;
        for (int i = 0; i < 100; ++i) {
            held.push_back(Conn::connect(server->address(), {}, within(2s)));
            harness::round_trip(held.back(), Pattern(2000 + static_cast<std::uint64_t>(i)), 0, 16,
                                within(2s));
        }
        Conn over = Conn::connect(server->address(), {}, within(2s));
        auto end = over.read_until_eof(within(1s));
        CHECK_MESSAGE(end.end == harness::EndKind::eof,
                      "the 101st client: " << harness::end_kind_name(end.end) << " after " << end.data.size()
                                           << " bytes");
        CHECK(end.data.empty());
        held.pop_back();  // one leaves: its slot must free up
        bool served = false;
        for (auto until = Clock::now() + scaled(2s); !served && Clock::now() < until;) {
            Conn fresh = Conn::connect(server->address(), {}, within(2s));
            try {
                harness::round_trip(fresh, Pattern(2200), 0, 16, within(500ms));
                served = true;
            } catch (const harness::Failure&) {
                harness::sleep_for(20ms);  // the server may not have seen the close yet
            }
        }
        CHECK_MESSAGE(served, "no new client was served after one of the 100 left");
        held.clear();
    }

    TEST_CASE(
        "with --idle-timeout 1s 1000 silent clients are closed by 3 s while one sending a byte every 300 ms "
        "survives" *
        doctest::description("serial")) {
        harness::Case c({.limit = 30s, .needs_own_server = true, .start_server = false});
        if (c.skipped()) return;
        auto server = start_with(c, {"--idle-timeout", "1s"});
        std::vector<Conn> silent;
        for (int i = 0; i < 1000; ++i)
            silent.push_back(Conn::connect(server->address(), {}, within(2s)));
        auto start = Clock::now();
        Conn busy = Conn::connect(server->address(), {}, within(2s));
        std::uint64_t offset = 0;
        std::size_t closed = 0;
        std::vector<bool> done(silent.size(), false);
        while (Clock::now() - start < scaled(3s) && closed < silent.size()) {
            harness::round_trip(busy, Pattern(2300), offset++, 1, within(1s));
            for (std::size_t i = 0; i < silent.size(); ++i) {
                if (done[i] || !silent[i].wait_readable(Deadline::after(0ms))) continue;
                auto end = silent[i].read_until_eof(within(1s));
                REQUIRE_MESSAGE(end.end == harness::EndKind::eof,
                                "silent client " << i << ": " << harness::end_kind_name(end.end));
                done[i] = true;
                ++closed;
            }
            harness::sleep_for(300ms);
        }
        CHECK_MESSAGE(closed == silent.size(),
                      closed << " of " << silent.size() << " silent clients closed by 3 s");
        harness::round_trip(busy, Pattern(2300), offset, 1, within(1s));  // the busy one is still served
    }
}

TEST_SUITE("scale") {
    TEST_CASE("started with a soft descriptor limit of 1024 the server serves 10000 concurrent connections") {
        harness::Case c({.limit = 40s, .nofile_soft = 1024});
        if (c.skipped()) return;
        harness::Swarm swarm(c.address());
        for (int i = 0; i < 10000; ++i)
            swarm.add({.steps = {Step::round_trip(32), Step::wait(3s), Step::round_trip(32)}});
        // Completing is not enough: given time, 1024 descriptors serve 10000 clients in waves
        // as earlier ones leave. "Concurrent" is judged by the server holding them all at
        // once, sampled from /proc a few times a second (each sample lists every fd).
        int peak_fds = 0;
        auto next_sample = harness::Clock::now();
        swarm.on_tick([&] {
            if (harness::Clock::now() < next_sample) return true;
            next_sample = harness::Clock::now() + 200ms;
            peak_fds = std::max(peak_fds, c.server()->fd_count());
            return true;
        });
        auto r = swarm.run({.connects_per_second = 5000, .deadline = within(12s)});
        MESSAGE(r.describe() << "; peak open " << r.peak_open << "; server peak fds " << peak_fds);
        CHECK_MESSAGE(r.ok(), r.describe());
        CHECK(r.peak_open > 9000);
        CHECK_MESSAGE(peak_fds >= 10000,
                      "the server never held more than " << peak_fds << " descriptors at once");
    }
}

TEST_SUITE("concurrency") {
    TEST_CASE("a flood of 100000 UDP datagrams leaves a TCP probe a p99 round trip under 50 ms" *
              doctest::description("serial")) {
        harness::Case c({.limit = 30s, .needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        auto options = c.server_options();
        options.listen = {"tcp://127.0.0.1:0", "udp://127.0.0.1:0"};
        auto server = c.start_server(options);
        const common::Address udp = server->addresses().at(1);
        std::atomic<bool> flooding{true};
        // jthread: joined on every exit, also when an assertion below throws.
        std::jthread flood([&] {
            int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            std::string datagram(64, 'u');
            for (int i = 0; i < 100000; ++i)
                ::sendto(fd, datagram.data(), datagram.size(), 0,
                         reinterpret_cast<const sockaddr*>(&udp.storage),
                         udp.length);  // replies are never read: they pile up and are dropped
            ::close(fd);
            flooding = false;
        });
        harness::Latencies probe;
        Conn conn = Conn::connect(server->address(), {.nodelay = true}, within(2s));
        std::uint64_t offset = 0;
        while (flooding || probe.count() < 50) {
            probe.add(harness::round_trip(conn, Pattern(2400), offset++, 1, within(2s)));
            harness::sleep_for(10ms);
        }
        flood.join();
        MESSAGE("probe during the flood: " << probe.summary());
        CHECK_MESSAGE(probe.percentile(99) < scaled(50ms),
                      "p99 " << harness::to_ms(probe.percentile(99)) << " ms");
        CHECK(server->alive());
    }
}
