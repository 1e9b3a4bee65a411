// The robustness tier: running out of descriptors, resets at awkward moments, a backlog that
// piles up while the server is stopped, the limits a production server needs and evio and
// gnet lack (a connection cap, idle timeouts: stage 04's --max-conns and --idle-timeout), and
// a minute of clients doing random things.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "harness/harness.hpp"

using namespace std::chrono_literals;
using namespace harness;

TEST_SUITE("robustness") {
    TEST_CASE(
        "under a 32 descriptor limit 64 clients cause no spin and no stderr flood and the queued ones are "
        "echoed as others close" *
        doctest::description("serial")) {
        Case c({.limit = 30s, .nofile_soft = 32, .nofile_hard = 32});
        if (c.skipped()) return;
        constexpr int kClients = 64;
        constexpr std::size_t kMessage = 32;
        std::vector<Conn> clients;
        std::vector<bool> served(kClients, false);
        // Every client connects (the kernel completes the handshake and queues it) and sends
        // at once, so a queued client's bytes are already waiting when it is accepted.
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(Conn::connect(c.address()));
            clients.back().send_all(Pattern(1000 + static_cast<std::uint64_t>(i)).bytes(0, kMessage),
                                    within(1s));
        }
        auto collect = [&](Deadline deadline) {
            int got = 0;
            for (int i = 0; i < kClients; ++i) {
                auto& conn = clients[static_cast<std::size_t>(i)];
                if (served[static_cast<std::size_t>(i)] || !conn.wait_readable(Deadline::after(0ms)))
                    continue;
                auto echo = conn.recv_exact(kMessage, deadline);
                REQUIRE_MESSAGE(!Pattern(1000 + static_cast<std::uint64_t>(i)).first_mismatch(0, echo),
                                "client " << i << " got a wrong echo");
                served[static_cast<std::size_t>(i)] = true;
                ++got;
            }
            return got;
        };
        // While the limit bites: accept() fails with EMFILE and the rest wait in the backlog.
        double share = c.server()->cpu_fraction_over(1s);
        int first = collect(within(1s));
        MESSAGE(first << " of " << kClients << " clients served at first; server CPU " << share * 100
                      << "%; stderr " << c.server()->stderr_bytes() << " bytes");
        CHECK_MESSAGE(share < 0.10,
                      "the server used " << share * 100 << "% of a CPU while out of descriptors");
        CHECK_MESSAGE(c.server()->stderr_bytes() < 64 * 1024,
                      "the server wrote " << c.server()->stderr_bytes() << " bytes to stderr");
        REQUIRE_MESSAGE(c.server()->alive(), "the server died out of descriptors");
        REQUIRE_MESSAGE(first > 0, "no client was served at all");
        // Now the served clients leave, round after round, and no new client connects: the
        // queued ones must be taken as descriptors free up.
        int rounds = 0, total = first;
        while (total < kClients) {
            ++rounds;
            for (int i = 0; i < kClients; ++i)
                if (served[static_cast<std::size_t>(i)]) clients[static_cast<std::size_t>(i)].close();
            Deadline deadline = within(1s);
            int got = 0;
            while (got == 0 && !deadline.expired()) {
                got = collect(deadline);
                if (got == 0) sleep_for(5ms);
            }
            REQUIRE_MESSAGE(got > 0, "round " << rounds << ": " << kClients - total
                                              << " queued clients, none echoed within " << scaled(1s).count()
                                              << " ms after the served ones closed");
            total += got;
        }
        MESSAGE("all served after " << rounds << " rounds");
    }

    TEST_CASE("a reset while backpressured leaves the server idle within 1 s with its descriptor freed" *
              doctest::description("serial")) {
        Case c({.limit = 20s, .needs_own_server = true});
        if (c.skipped()) return;
        // Push without reading until the server stops taking bytes (or 64 MiB, for a server
        // that buffers without bound), then reset.
        Conn conn = Conn::connect(c.address(), {.rcvbuf = 4096});
        const auto chunk = Pattern(1100).bytes(0, 256 * 1024);
        std::uint64_t pushed = 0;
        auto last_progress = Clock::now();
        while (pushed < 64 * kMiB && Clock::now() - last_progress < 200ms) {
            std::size_t n = conn.send_now(chunk);
            if (n > 0) {
                pushed += n;
                last_progress = Clock::now();
            } else {
                conn.wait_readable(Deadline::after(5ms));  // a short pause, nothing to read
            }
        }
        MESSAGE("pushed " << pushed << " bytes before the server stopped taking them");
        conn.reset();
        int now = c.wait_for_fd_baseline(1000ms);
        CHECK_MESSAGE(now <= c.baseline_fds(), "1 s after the reset the server still holds "
                                                   << now - c.baseline_fds()
                                                   << " more descriptors than before");
        double share = c.server()->cpu_fraction_over(1s);
        CHECK_MESSAGE(share < 0.05, "after the reset the server used " << share * 100 << "% of a CPU");
        check_echo(c.address(), 64, within(2s));
    }

    TEST_CASE(
        "500 connect-then-reset clients while the server is stopped do not delay a fresh echo past 1 s after "
        "SIGCONT" *
        doctest::description("serial")) {
        Case c({.limit = 20s, .needs_own_server = true});
        if (c.skipped()) return;
        check_echo(c.address(), 64, within(2s));
        c.server()->signal(SIGSTOP);
        // The kernel completes each handshake and queues the connection; the reset arrives
        // before the server has even accepted it (accept(2) may then return it or skip it).
        for (int i = 0; i < 500; ++i)
            Conn::connect(c.address(), {}, within(2s)).reset();
        c.server()->signal(SIGCONT);
        auto start = Clock::now();
        Conn fresh = Conn::connect(c.address(), {}, within(2s));
        round_trip(fresh, Pattern(1200), 0, 64, within(2s));
        auto took = Clock::now() - start;
        CHECK_MESSAGE(took < scaled(1000ms), "the fresh echo took " << to_ms(took) << " ms after SIGCONT");
    }

    TEST_CASE(
        "with --max-conns 100 the 101st client gets EOF within 1 s and a new one is served after one "
        "leaves" *
        doctest::description("serial")) {
        // Started in the body: a server that rejects the flag fails the case, not the harness.
        Case c({.limit = 20s,
                .needs_own_server = true,
                .start_server = false,
                .extra_args = {"--max-conns", "100"}});
        if (c.skipped()) return;
        auto server = c.start_server(c.server_options());
        std::vector<Conn> held;
        for (int i = 0; i < 100; ++i) {
            held.push_back(Conn::connect(server->address(), {}, within(2s)));
            round_trip(held.back(), Pattern(2000 + static_cast<std::uint64_t>(i)), 0, 16, within(2s));
        }
        Conn over = Conn::connect(server->address(), {}, within(2s));
        auto end = over.read_until_eof(within(1s));
        CHECK_MESSAGE(end.end == EndKind::eof, "the 101st client: " << end_kind_name(end.end) << " after "
                                                                    << end.data.size() << " bytes");
        CHECK(end.data.empty());
        held.pop_back();  // one leaves: its slot must free up
        bool served = false;
        for (auto until = Clock::now() + scaled(2s); !served && Clock::now() < until;) {
            Conn fresh = Conn::connect(server->address(), {}, within(2s));
            try {
                round_trip(fresh, Pattern(2200), 0, 16, within(500ms));
                served = true;
            } catch (const Failure&) {
                sleep_for(20ms);  // the server may not have seen the close yet
            }
        }
        CHECK_MESSAGE(served, "no new client was served after one of the 100 left");
        held.clear();
    }

    TEST_CASE(
        "with --idle-timeout 1s 1000 silent clients are closed by 3 s while one sending a byte every 300 ms "
        "survives" *
        doctest::description("serial")) {
        Case c({.limit = 30s,
                .needs_own_server = true,
                .start_server = false,
                .extra_args = {"--idle-timeout", "1s"}});
        if (c.skipped()) return;
        auto server = c.start_server(c.server_options());
        std::vector<Conn> silent;
        for (int i = 0; i < 1000; ++i)
            silent.push_back(Conn::connect(server->address(), {}, within(2s)));
        auto start = Clock::now();
        Conn busy = Conn::connect(server->address(), {}, within(2s));
        std::uint64_t offset = 0;
        std::size_t closed = 0;
        std::vector<bool> done(silent.size(), false);
        while (Clock::now() - start < scaled(3s) && closed < silent.size()) {
            round_trip(busy, Pattern(2300), offset++, 1, within(1s));
            for (std::size_t i = 0; i < silent.size(); ++i) {
                if (done[i] || !silent[i].wait_readable(Deadline::after(0ms))) continue;
                auto end = silent[i].read_until_eof(within(1s));
                REQUIRE_MESSAGE(end.end == EndKind::eof,
                                "silent client " << i << ": " << end_kind_name(end.end));
                done[i] = true;
                ++closed;
            }
            sleep_for(300ms);
        }
        CHECK_MESSAGE(closed == silent.size(),
                      closed << " of " << silent.size() << " silent clients closed by 3 s");
        round_trip(busy, Pattern(2300), offset, 1, within(1s));  // the busy one is still served
    }

    TEST_CASE(
        "20 streaming and 20 round-tripping clients that start while the server is stopped each get exactly "
        "their own bytes") {
        harness::Case c({.limit = 30s, .needs_own_server = true});
        if (c.skipped()) return;
        // When the server wakes up, everything is waiting at once: more to receive than a
        // server that shares a fixed set of buffers among its connections has buffers for
        // (io_uring's provided-buffer ring then answers ENOBUFS, and the receive must be
        // armed again), and echo that must go out from buffers the others are refilling.
        // Every client has its own pattern, so a byte from a buffer reused too early, or a
        // receive never re-armed, is caught. A server that serves one client at a time gets
        // through them in turn: nothing here waits for another client.
        harness::Swarm swarm(c.address());
        for (int i = 0; i < 20; ++i) {
            swarm.add({.steps = {harness::Step::send(4 * kMiB), harness::Step::expect(4 * kMiB)}});
            swarm.add({.steps = {harness::Step::round_trip(4096, 200)}});
        }
        c.server()->signal(SIGSTOP);
        const auto stopped_at = Clock::now();
        bool stopped = true;
        swarm.on_tick([&] {
            if (stopped && Clock::now() - stopped_at >= 50ms) {  // time for the kernel to take their bytes
                c.server()->signal(SIGCONT);
                stopped = false;
            }
            return true;
        });
        auto r = swarm.run({.deadline = within(20s)});
        if (stopped) c.server()->signal(SIGCONT);
        CHECK_MESSAGE(r.ok(), r.describe());
    }

    TEST_CASE("60 s of random clients get every completed exchange back byte-exact with fds and RSS bounded" *
              doctest::description("slow")) {
        Case c({.limit = 150s});
        if (c.skipped()) return;
        std::uint64_t seed = 20261127;
        if (const char* env = std::getenv("EVLOOP_TEST_SEED")) seed = std::strtoull(env, nullptr, 10);
        MESSAGE("seed " << seed << " (EVLOOP_TEST_SEED repeats a run)");
        std::mt19937_64 rng(seed);
        constexpr std::size_t kOpen = 100;  // clients at once
        std::size_t rss_before = 0, rss_peak = 0;
        // Descriptors held: in both of two looks 100 ms apart. A server whose kernel accepts
        // for it (io_uring's multishot accept) holds a new batch's connections for a moment
        // beside the last batch's closes it has yet to see; a server that closes late holds
        // them across both looks.
        int fds_peak = 0, fds_last = 0;
        auto* server = c.server();
        if (server) rss_before = rss_peak = server->rss_bytes();
        std::size_t clients = 0, batches = 0;
        const auto end = Clock::now() + 60s;  // how long the soak lasts, not a bound
        while (Clock::now() < end) {
            Swarm swarm(c.address());
            for (int i = 0; i < 200; ++i) {
                Script s = random_script(rng);
                s.seed = ++clients;  // every client of the run has its own stream
                swarm.add(s);
            }
            auto last_sample = Clock::now();
            swarm.on_tick([&] {
                if (server && Clock::now() - last_sample >= 100ms) {
                    last_sample = Clock::now();
                    rss_peak = std::max(rss_peak, server->rss_bytes());
                    int fds = server->fd_count();
                    fds_peak = std::max(fds_peak, std::min(fds, fds_last));
                    fds_last = fds;
                }
                return true;
            });
            auto r = swarm.run({.max_open = kOpen, .deadline = within(60s)});
            ++batches;
            REQUIRE_MESSAGE(r.ok(), "batch " << batches << ": " << r.describe());
        }
        MESSAGE(clients << " clients in " << batches << " batches; server RSS " << rss_before / kMiB
                        << " -> peak " << rss_peak / kMiB << " MiB; peak descriptors held " << fds_peak
                        << " (baseline " << c.baseline_fds() << ")");
        if (server) {
            CHECK_MESSAGE(rss_peak - rss_before < 256 * kMiB,
                          "the server grew by " << (rss_peak - rss_before) / kMiB << " MiB");
            const int per_client = harness::target().fds_per_client;  // a relay holds two
            CHECK_MESSAGE(fds_peak <= c.baseline_fds() + per_client * static_cast<int>(kOpen) + 16,
                          "the server held " << fds_peak << " descriptors with at most " << kOpen
                                             << " clients connected and " << per_client
                                             << " per client (--fds-per-client)");
        }
    }
}
