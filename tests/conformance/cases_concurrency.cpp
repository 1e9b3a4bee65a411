// The concurrency tier: one client must never hold up another. A silent client, a hundred in
// lockstep, a slow reader, a firehose, thousands that come and go, urgent data, a flood of
// tiny writes or of UDP datagrams: each beside a client that must not notice, judged by the
// latency it sees, and the server must stay idle when its clients are.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "harness/harness.hpp"

using namespace std::chrono_literals;
using namespace harness;

TEST_SUITE("concurrency") {
    TEST_CASE("a silent client does not delay the echo of another by more than 100 ms" *
              doctest::description("serial")) {
        Case c;
        if (c.skipped()) return;
        const auto bound = scaled(100ms);
        // One client that connects and never sends; then each probe, once answered, stays
        // connected and silent too: a server that waits on any of them stalls the next probe.
        const auto give_up = std::max<Duration>(bound * 10, 1s);
        Conn silent = Conn::connect(c.address());
        std::vector<Conn> quiet;
        for (int i = 0; i < 5; ++i) {
            CAPTURE(i);
            Conn probe = Conn::connect(c.address());
            auto took = timed_round_trip(probe, Pattern(20 + static_cast<std::uint64_t>(i)), 0, 32,
                                         Deadline::after(give_up));
            REQUIRE_MESSAGE(took.has_value(), "no echo within " << to_ms(give_up) << " ms while " << i + 1
                                                                << " silent client(s) were connected");
            CHECK_MESSAGE(*took <= bound,
                          "the echo took " << to_ms(*took) << " ms, more than " << bound.count() << " ms");
            quiet.push_back(std::move(probe));
        }
    }

    TEST_CASE("100 clients each doing 100 interleaved round trips are all echoed") {
        Case c;
        if (c.skipped()) return;
        // Lockstep: every client sends its next message before any waits for an echo, so
        // a server that serves clients one after another cannot finish a single round.
        constexpr int kClients = 100, kRounds = 100;
        constexpr std::size_t kMessage = 24;
        std::vector<Conn> conns;
        for (int i = 0; i < kClients; ++i)
            conns.push_back(Conn::connect(c.address()));
        std::vector<PatternChecker> checkers;
        for (int i = 0; i < kClients; ++i)
            checkers.emplace_back(Pattern(100 + static_cast<std::uint64_t>(i)));
        Latencies rounds;
        for (int round = 0; round < kRounds; ++round) {
            auto start = Clock::now();
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
            rounds.add(Clock::now() - start);
        }
        MESSAGE("rounds: " << rounds.summary());
    }

    TEST_CASE("with one idle client connected the server uses under 2% CPU over 2 s" *
              doctest::description("serial")) {
        Case c({.needs_own_server = true});
        if (c.skipped()) return;
        // An idle connection must cost nothing: no busy polling, no timer spinning.
        Conn idle = Conn::connect(c.address());
        round_trip(idle, Pattern(40), 0, 64, within(2s));
        double share = c.server()->cpu_fraction_over(2s);
        CHECK_MESSAGE(share < 0.02,
                      "the server used " << share * 100 << "% of a CPU while its one client was idle");
    }

    TEST_CASE(
        "a slow reader grows the server by under 64 MiB and keeps a bystander p99 under 100 ms and after its "
        "half-close gets every byte back" *
        doctest::description("serial")) {
        Case c({.limit = 30s, .needs_own_server = true});
        if (c.skipped()) return;
        const auto bound = scaled(100ms);
        // A tiny receive buffer set before connect, so the window it advertises stays tiny:
        // the server's echo backs up at once and stays backed up. It connects first and is
        // served first, so a server that serves one client at a time is busy with it.
        Conn slow = Conn::connect(c.address(), {.rcvbuf = 4096});
        const Pattern slow_pattern(500), talk(501);
        round_trip(slow, slow_pattern, 0, 32, within(2s));
        Conn bystander = Conn::connect(c.address());
        round_trip(bystander, talk, 0, 32, within(2s));
        const std::size_t rss_before = c.server()->rss_bytes();
        std::uint64_t pushed = 32, offset = 32;
        std::vector<std::uint8_t> chunk;
        std::size_t rss_peak = rss_before;
        Latencies trips;
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
            auto took = timed_round_trip(bystander, talk, offset, 32, within(1s));
            REQUIRE_MESSAGE(took, "the bystander got no echo within "
                                      << scaled(1s).count() << " ms while the slow reader had pushed "
                                      << pushed << " bytes");
            trips.add(*took);
            offset += 32;
        }
        MESSAGE("slow reader pushed " << pushed << " bytes; server RSS " << rss_before / 1024
                                      << " KiB -> peak " << rss_peak / 1024 << " KiB; bystander "
                                      << trips.summary());
        CHECK_MESSAGE(trips.percentile(99) < bound, "bystander p99 " << to_ms(trips.percentile(99))
                                                                     << " ms, over " << bound.count()
                                                                     << " ms");
        // Now it half-closes and reads, still slowly (16 MB/s): everything it pushed
        // comes back, then a clean EOF. The server stopped reading it a while ago and must take
        // it up again by itself (no new byte will arrive to say so), and when it reads the EOF
        // its buffer still holds echo it must flush before its own FIN.
        slow.shutdown_write();
        PatternChecker checker(slow_pattern);
        checker.consume(slow_pattern.bytes(0, 32));
        const Deadline drain = within(10s);
        const auto drain_start = Clock::now();
        for (;;) {
            auto got = slow.recv_some(256 * 1024, drain);
            if (got.empty()) break;
            REQUIRE_MESSAGE(checker.consume(got), checker.describe_bad());
            auto due = drain_start + std::chrono::microseconds(checker.offset() / 16);
            if (Clock::now() < due) sleep_for(due - Clock::now());
        }
        CHECK_MESSAGE(checker.offset() == pushed,
                      "EOF after " << checker.offset() << " of " << pushed << " bytes");
    }

    TEST_CASE("a firehose client leaves a probe sending a byte every 10 ms a p99 round trip under 50 ms" *
              doctest::description("serial")) {
        Case c({.limit = 20s});
        if (c.skipped()) return;
        const auto bound = scaled(50ms);
        // The firehose writes as fast as the server takes its bytes and reads its echo as fast
        // as it comes; it connects first, so a server that serves one client at a time has it.
        Conn hose = Conn::connect(c.address());
        round_trip(hose, Pattern(600), 0, 16, within(2s));
        Conn probe = Conn::connect(c.address(), {.nodelay = true});
        const Pattern probe_pattern(601);
        const auto block = Pattern(600).bytes(16, kMiB);
        std::vector<std::uint8_t> sink(kMiB);
        std::uint64_t hose_sent = 16, hose_echoed = 16, probe_offset = 0;
        Latencies trips;
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
        CHECK_MESSAGE(trips.percentile(99) < bound,
                      "probe p99 " << to_ms(trips.percentile(99)) << " ms, over " << bound.count() << " ms");
    }

    TEST_CASE(
        "200 tagged long-lived clients each get exactly their own stream while 10000 churn connections "
        "connect send and reset") {
        Case c({.limit = 60s});
        if (c.skipped()) return;
        // Every client has its own pattern, so a byte delivered to the wrong connection is
        // caught; the churn makes the server close and reuse descriptor numbers all the time.
        constexpr int kTagged = 200, kChurn = 10000;
        Swarm swarm(c.address());
        for (int i = 0; i < kTagged; ++i) {
            Script s;
            for (int k = 0; k < 20; ++k) {
                s.steps.push_back(Step::round_trip(512 + static_cast<std::uint64_t>(i)));
                s.steps.push_back(Step::wait(50ms));
            }
            swarm.add(s);
        }
        for (int i = 0; i < kChurn; ++i)
            swarm.add({.steps = {Step::send(1024 + static_cast<std::uint64_t>(i % 512)), Step::reset()}});
        auto r = swarm.run({.max_open = kTagged + 300, .deadline = within(8s)});
        MESSAGE(r.describe());
        CHECK_MESSAGE(r.ok(), r.describe());
    }

    TEST_CASE("an urgent byte sent with MSG_OOB neither stalls the data behind it nor makes the server spin" *
              doctest::description("serial")) {
        Case c({.needs_own_server = true});
        if (c.skipped()) return;
        Conn conn = Conn::connect(c.address());
        const Pattern p(700);
        round_trip(conn, p, 0, 16, within(2s));
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
        recv_around_urgent(conn, p, 16, 200, 100, urgent1, within(1s));
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
        recv_around_urgent(conn, p, 316, 100, 0, urgent2, within(1s));
    }

    TEST_CASE("200000 one-byte writes sent without reading come back byte-exact once the client drains") {
        Case c({.limit = 30s});
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
            } catch (const Failure& f) {
                FAIL("after " << i << " one-byte writes the server took no more: " << std::string(f.what()));
            }
        }
        auto echo = conn.recv_exact(kWrites, within(10s));
        auto bad = p.first_mismatch(0, echo);
        CHECK_MESSAGE(!bad, "wrong byte at offset " << *bad);
    }

    TEST_CASE("a flood of 100000 UDP datagrams leaves a TCP probe a p99 round trip under 50 ms" *
              doctest::description("serial")) {
        Case c({.limit = 30s, .needs_own_server = true, .start_server = false, .check_fds = false});
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
        Latencies probe;
        Conn conn = Conn::connect(server->address(), {.nodelay = true}, within(2s));
        std::uint64_t offset = 0;
        while (flooding || probe.count() < 50) {
            probe.add(round_trip(conn, Pattern(2400), offset++, 1, within(2s)));
            sleep_for(10ms);
        }
        flood.join();
        MESSAGE("probe during the flood: " << probe.summary());
        CHECK_MESSAGE(probe.percentile(99) < scaled(50ms), "p99 " << to_ms(probe.percentile(99)) << " ms");
        CHECK(server->alive());
    }
}
