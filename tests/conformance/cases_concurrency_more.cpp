// The concurrency tier, continued: clients that misbehave on purpose -- one that never
// reads, one that never stops sending, thousands that come and go, urgent data, a flood
// of tiny writes -- and the clients beside them, who must not notice.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using harness::Clock;
using harness::Conn;
using harness::Deadline;
using harness::Pattern;
using harness::scaled;
using harness::within;

namespace {

constexpr std::size_t kMiB = 1024 * 1024;

// How long the echo of `bytes` takes on `conn`, or nothing if it has not come by `give_up`.
std::optional<harness::Duration> timed_echo(Conn& conn, const Pattern& pattern, std::uint64_t offset,
                                            std::size_t bytes, Deadline give_up) {
    try {
        return harness::round_trip(conn, pattern, offset, bytes, give_up);
    } catch (const harness::Failure&) {
        if (give_up.expired()) return std::nullopt;
        throw;
    }
}

// Receives the echo of pattern bytes [offset, offset + n) sent with one urgent byte after the
// first `before` of them. The urgent byte is out of band unless the server asked for it
// inline (SO_OOBINLINE, tcp(7)); either way the pattern bytes must all come back in order.
void expect_around_urgent(Conn& conn, const Pattern& pattern, std::uint64_t offset, std::size_t n,
                          std::size_t before, std::uint8_t urgent, Deadline deadline) {
    std::vector<std::uint8_t> got;
    bool skipped = false;
    while (got.size() < n) {
        auto chunk = conn.recv_some(n - got.size() + (skipped ? 0 : 1), deadline);
        REQUIRE_MESSAGE(!chunk.empty(), "EOF after " << got.size() << " of " << n << " bytes");
        for (std::uint8_t b : chunk) {
            if (!skipped && got.size() == before && b == urgent && b != pattern.at(offset + before)) {
                skipped = true;  // the urgent byte, inline at its place
                continue;
            }
            got.push_back(b);
        }
    }
    auto bad = pattern.first_mismatch(offset, got);
    REQUIRE_MESSAGE(!bad, "wrong byte at stream offset " << *bad << " (" << before
                                                         << " bytes were sent before the urgent byte)");
}

}  // namespace

TEST_SUITE("concurrency") {
    TEST_CASE(
        "a slow reader grows the server by under 64 MiB and keeps a bystander p99 under 100 ms and after its "
        "half-close gets every byte back" *
        doctest::description("serial")) {
        harness::Case c({.limit = 30s, .needs_own_server = true});
        if (c.skipped()) return;
        const auto bound = scaled(100ms);
        // A tiny receive buffer set before connect, so the window it advertises stays tiny:
        // the server's echo backs up at once and stays backed up. It connects first and is
        // served first, so a server that serves one client at a time is busy with it.
        Conn slow = Conn::connect(c.address(), {.rcvbuf = 4096});
        const Pattern slow_pattern(500), talk(501);
        harness::round_trip(slow, slow_pattern, 0, 32, within(2s));
        Conn bystander = Conn::connect(c.address());
        harness::round_trip(bystander, talk, 0, 32, within(2s));
        const std::size_t rss_before = c.server()->rss_bytes();
        std::uint64_t pushed = 32, offset = 32;
        std::vector<std::uint8_t> chunk;
        std::size_t rss_peak = rss_before;
        harness::Latencies trips;
        const auto end = Clock::now() + 3s;  // how long the load lasts, not a bound
        while (Clock::now() < end) {
            if (chunk.empty()) chunk = slow_pattern.bytes(pushed, 256 * 1024);
            std::size_t n = slow.send_now(chunk);
            pushed += n;
            chunk.erase(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
            rss_peak = std::max(rss_peak, c.server()->rss_bytes());
            REQUIRE_MESSAGE(rss_peak - rss_before < 64 * kMiB,
                            "the server grew by "
                                << (rss_peak - rss_before) / kMiB << " MiB buffering for a client "
                                << "that does not read (it had pushed " << pushed << " bytes)");
            auto took = timed_echo(bystander, talk, offset, 32, within(1s));
            REQUIRE_MESSAGE(took, "the bystander got no echo within "
                                      << scaled(1s).count() << " ms while the slow reader had pushed "
                                      << pushed << " bytes");
            trips.add(*took);
            offset += 32;
        }
        MESSAGE("slow reader pushed " << pushed << " bytes; server RSS " << rss_before / 1024
                                      << " KiB -> peak " << rss_peak / 1024 << " KiB; bystander "
                                      << trips.summary());
        CHECK_MESSAGE(trips.percentile(99) < bound, "bystander p99 " << harness::to_ms(trips.percentile(99))
                                                                     << " ms, over " << bound.count()
                                                                     << " ms");
        // Now it half-closes and reads, still slowly (16 MB/s): everything it pushed
        // comes back, then a clean EOF. The server stopped reading it a while ago and must take
        // it up again by itself (no new byte will arrive to say so), and when it reads the EOF
        // its buffer still holds echo it must flush before its own FIN.
        slow.shutdown_write();
        harness::PatternChecker checker(slow_pattern);
        checker.consume(slow_pattern.bytes(0, 32));
        const Deadline drain = within(10s);
        const auto drain_start = Clock::now();
        for (;;) {
            auto got = slow.recv_some(256 * 1024, drain);
            if (got.empty()) break;
            REQUIRE_MESSAGE(checker.consume(got), checker.describe_bad());
            auto due = drain_start + std::chrono::microseconds(checker.offset() / 16);
            if (Clock::now() < due) harness::sleep_for(due - Clock::now());
        }
        CHECK_MESSAGE(checker.offset() == pushed,
                      "EOF after " << checker.offset() << " of " << pushed << " bytes");
    }

    TEST_CASE("a firehose client leaves a probe sending a byte every 10 ms a p99 round trip under 50 ms" *
              doctest::description("serial")) {
        harness::Case c({.limit = 20s});
        if (c.skipped()) return;
        const auto bound = scaled(50ms);
        // The firehose writes as fast as the server takes its bytes and reads its echo as fast
        // as it comes; it connects first, so a server that serves one client at a time has it.
        Conn hose = Conn::connect(c.address());
        harness::round_trip(hose, Pattern(600), 0, 16, within(2s));
        Conn probe = Conn::connect(c.address(), {.nodelay = true});
        const Pattern probe_pattern(601);
        const auto block = Pattern(600).bytes(16, kMiB);
        std::vector<std::uint8_t> sink(kMiB);
        std::uint64_t hose_sent = 16, hose_echoed = 16, probe_offset = 0;
        harness::Latencies trips;
        bool waiting = false;  // a probe byte is out and its echo has not come
        Clock::time_point probe_sent{};
        auto next_probe = Clock::now();
        const auto end = Clock::now() + 3s;
        while (Clock::now() < end || waiting) {
            auto now = Clock::now();
            if (!waiting && now >= next_probe && now < end) {
                std::uint8_t b = probe_pattern.at(probe_offset);
                probe.send_all(std::span(&b, 1), within(1s));
                probe_sent = now;
                waiting = true;
            }
            REQUIRE_MESSAGE((!waiting || now - probe_sent < scaled(1s)),
                            "the probe got no echo within " << scaled(1s).count() << " ms (after "
                                                            << trips.count() << " round trips)");
            pollfd fds[2] = {{hose.fd(), POLLIN | POLLOUT, 0}, {probe.fd(), POLLIN, 0}};
            ::poll(fds, 2, 2);
            // A few MiB each way per turn at most, so the probe is timed to the millisecond.
            for (int k = 0; k < 4 && (fds[0].revents & POLLOUT); ++k) {
                std::size_t n = hose.send_now(block);
                hose_sent += n;
                if (n < block.size()) break;
            }
            for (int k = 0; k < 4 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)); ++k) {
                ssize_t n = ::recv(hose.fd(), sink.data(), sink.size(), 0);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
                REQUIRE_MESSAGE(
                    n > 0, "the firehose connection ended: " << (n == 0 ? std::string("EOF")
                                                                        : std::string(std::strerror(errno))));
                hose_echoed += static_cast<std::uint64_t>(n);
            }
            if (waiting && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
                auto got = probe.recv_some(1, within(1s));
                REQUIRE_MESSAGE(got.size() == 1, "the probe's connection ended");
                REQUIRE_MESSAGE(got[0] == probe_pattern.at(probe_offset),
                                "wrong byte echoed to the probe at offset " << probe_offset);
                trips.add(Clock::now() - probe_sent);
                next_probe = probe_sent + 10ms;
                waiting = false;
                ++probe_offset;
            }
        }
        MESSAGE("firehose: " << hose_sent << " bytes sent, " << hose_echoed << " echoed; probe "
                             << trips.summary());
        CHECK_MESSAGE(hose_echoed > 16 + kMiB, "the firehose itself was barely served");
        CHECK_MESSAGE(trips.percentile(99) < bound, "probe p99 " << harness::to_ms(trips.percentile(99))
                                                                 << " ms, over " << bound.count() << " ms");
    }

    TEST_CASE(
        "200 tagged long-lived clients each get exactly their own stream while 10000 churn connections "
        "connect send and reset") {
        harness::Case c({.limit = 60s});
        if (c.skipped()) return;
        // Every client has its own pattern, so a byte delivered to the wrong connection is
        // caught; the churn makes the server close and reuse descriptor numbers all the time.
        constexpr int kTagged = 200, kChurn = 10000;
        harness::Swarm swarm(c.address());
        for (int i = 0; i < kTagged; ++i) {
            harness::Script s;
            for (int k = 0; k < 20; ++k) {
                s.steps.push_back(harness::Step::round_trip(512 + static_cast<std::uint64_t>(i)));
                s.steps.push_back(harness::Step::wait(50ms));
            }
            swarm.add(s);
        }
        for (int i = 0; i < kChurn; ++i)
            swarm.add({.steps = {harness::Step::send(1024 + static_cast<std::uint64_t>(i % 512)),
                                 harness::Step::reset()}});
        auto r = swarm.run({.max_open = kTagged + 300, .deadline = within(8s)});
        MESSAGE(r.describe());
        CHECK_MESSAGE(r.ok(), r.describe());
    }

    TEST_CASE("an urgent byte sent with MSG_OOB neither stalls the data behind it nor makes the server spin" *
              doctest::description("serial")) {
        harness::Case c({.needs_own_server = true});
        if (c.skipped()) return;
        Conn conn = Conn::connect(c.address());
        const Pattern p(700);
        harness::round_trip(conn, p, 0, 16, within(2s));
        auto send_urgent = [&](std::uint8_t b) {
            REQUIRE_MESSAGE(::send(conn.fd(), &b, 1, MSG_OOB | MSG_NOSIGNAL) == 1,
                            "send(MSG_OOB): " << std::string(std::strerror(errno)));
        };
        // Data, an urgent byte and more data, all waiting before the server looks: a read
        // stops short at the urgent mark (tcp(7)), with the rest already queued behind it.
        const std::uint8_t urgent1 = static_cast<std::uint8_t>(p.at(116) ^ 0xff);
        c.server()->signal(SIGSTOP);
        conn.send_all(p.bytes(16, 100), within(1s));
        send_urgent(urgent1);
        conn.send_all(p.bytes(116, 100), within(1s));
        c.server()->signal(SIGCONT);
        expect_around_urgent(conn, p, 16, 200, 100, urgent1, within(1s));
        // An urgent byte last: its mark stays pending, with nothing to read behind it.
        const std::uint8_t urgent2 = static_cast<std::uint8_t>(p.at(316) ^ 0xff);
        conn.send_all(p.bytes(216, 100), within(1s));
        send_urgent(urgent2);
        auto echo = conn.recv_exact(100, within(1s));
        REQUIRE_MESSAGE(!p.first_mismatch(216, echo), "wrong echo before the second urgent byte");
        double share = c.server()->cpu_fraction_over(1s);
        CHECK_MESSAGE(share < 0.05, "the server used "
                                        << share * 100
                                        << "% of a CPU with an urgent byte pending and nothing to read");
        conn.send_all(p.bytes(316, 100), within(1s));
        expect_around_urgent(conn, p, 316, 100, 0, urgent2, within(1s));
    }

    TEST_CASE("200000 one-byte writes sent without reading come back byte-exact once the client drains") {
        harness::Case c({.limit = 30s});
        if (c.skipped()) return;
        // With TCP_NODELAY each write is its own segment. Tiny segments cost the kernel far
        // more buffer space than their payload, so the kernel alone cannot hold this much
        // for a client that does not read: the server must keep taking bytes.
        constexpr std::size_t kWrites = 200000;
        Conn conn = Conn::connect(c.address(), {.rcvbuf = 4096, .nodelay = true});
        const Pattern p(800);
        const Deadline deadline = within(10s);
        for (std::size_t i = 0; i < kWrites; ++i) {
            std::uint8_t b = p.at(i);
            try {
                conn.send_all(std::span(&b, 1), deadline);
            } catch (const harness::Failure& f) {
                FAIL("after " << i << " one-byte writes the server took no more: " << std::string(f.what()));
            }
        }
        auto echo = conn.recv_exact(kWrites, within(10s));
        auto bad = p.first_mismatch(0, echo);
        CHECK_MESSAGE(!bad, "wrong byte at offset " << *bad);
    }
}
