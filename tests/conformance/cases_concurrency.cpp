// The concurrency tier, first cases: one client must never hold up another.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using harness::Conn;
using harness::Deadline;
using harness::Pattern;
using harness::scaled;
using harness::within;

namespace {

// How long the echo of `bytes` takes on `conn`, or nothing if it has not come by `give_up`.
std::optional<harness::Duration> timed_echo(Conn& conn, const Pattern& pattern, std::uint64_t offset,
                                            std::size_t bytes, Deadline give_up) {
    try {
        return harness::round_trip(conn, pattern, offset, bytes, give_up);
    } catch (const harness::Failure& f) {
        if (give_up.expired()) return std::nullopt;
        throw;
    }
}

}  // namespace

TEST_SUITE("concurrency") {
    TEST_CASE("a silent client does not delay the echo of another by more than 100 ms" *
              doctest::description("serial")) {
        harness::Case c;
        if (c.skipped()) return;
        const auto bound = scaled(100ms);
        // One client that connects and never sends; then each probe, once answered, stays
        // connected and silent too: a server that waits on any of them stalls the next probe.
        const auto give_up = std::max<harness::Duration>(bound * 10, 1s);
        Conn silent = Conn::connect(c.address());
        std::vector<Conn> quiet;
        for (int i = 0; i < 5; ++i) {
            CAPTURE(i);
            Conn probe = Conn::connect(c.address());
            auto took = timed_echo(probe, Pattern(20 + static_cast<std::uint64_t>(i)), 0, 32,
                                   Deadline::after(give_up));
            REQUIRE_MESSAGE(took.has_value(), "no echo within " << harness::to_ms(give_up) << " ms while "
                                                                << i + 1
                                                                << " silent client(s) were connected");
            CHECK_MESSAGE(*took <= bound, "the echo took " << harness::to_ms(*took) << " ms, more than "
                                                           << bound.count() << " ms");
            quiet.push_back(std::move(probe));
        }
    }

    TEST_CASE("100 clients each doing 100 interleaved round trips are all echoed") {
        harness::Case c;
        if (c.skipped()) return;
        // Lockstep: every client sends its next message before any waits for an echo, so
        // a server that serves clients one after another cannot finish a single round.
        constexpr int kClients = 100, kRounds = 100;
        constexpr std::size_t kMessage = 24;
        std::vector<Conn> conns;
        for (int i = 0; i < kClients; ++i)
            conns.push_back(Conn::connect(c.address()));
        std::vector<harness::PatternChecker> checkers;
        for (int i = 0; i < kClients; ++i)
            checkers.emplace_back(Pattern(100 + static_cast<std::uint64_t>(i)));
        harness::Latencies rounds;
        for (int round = 0; round < kRounds; ++round) {
            auto start = harness::Clock::now();
            const std::uint64_t offset = static_cast<std::uint64_t>(round) * kMessage;
            for (int i = 0; i < kClients; ++i)
                conns[static_cast<std::size_t>(i)].send_all(
                    Pattern(100 + static_cast<std::uint64_t>(i)).bytes(offset, kMessage), within(2s));
            std::vector<pollfd> fds;
            for (auto& conn : conns)
                fds.push_back({conn.fd(), POLLIN, 0});
            Deadline deadline = within(2s);
            int waiting = kClients;
            while (waiting > 0) {
                int n = ::poll(fds.data(), fds.size(), deadline.poll_timeout_ms());
                if (n == 0 && deadline.expired()) break;
                for (std::size_t i = 0; i < fds.size(); ++i) {
                    if (fds[i].fd < 0 || !fds[i].revents) continue;
                    std::uint8_t buf[kMessage];
                    std::size_t want = static_cast<std::size_t>(offset + kMessage - checkers[i].offset());
                    ssize_t got = ::recv(fds[i].fd, buf, want, 0);
                    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                    REQUIRE_MESSAGE(got > 0, "client " << i << " in round " << round << ": "
                                                       << (got == 0 ? "EOF" : std::strerror(errno)));
                    REQUIRE_MESSAGE(checkers[i].consume(std::span(buf, static_cast<std::size_t>(got))),
                                    "client " << i << ": " << checkers[i].describe_bad());
                    if (checkers[i].offset() == offset + kMessage) {
                        fds[i].fd = -1;
                        --waiting;
                    }
                }
            }
            REQUIRE_MESSAGE(waiting == 0, "round " << round + 1 << " of " << kRounds << ": " << waiting
                                                   << " of " << kClients << " clients got no echo within "
                                                   << scaled(2s).count() << " ms");
            rounds.add(harness::Clock::now() - start);
        }
        MESSAGE("rounds: " << rounds.summary());
    }

    TEST_CASE("with one idle client connected the server uses under 2% CPU over 2 s" *
              doctest::description("serial")) {
        harness::Case c({.needs_own_server = true});
        if (c.skipped()) return;
        // An idle connection must cost nothing: no busy polling, no timer spinning.
        Conn idle = Conn::connect(c.address());
        harness::round_trip(idle, Pattern(40), 0, 64, within(2s));
        double share = c.server()->cpu_fraction_over(2s);
        CHECK_MESSAGE(share < 0.02,
                      "the server used " << share * 100 << "% of a CPU while its one client was idle");
    }
}
