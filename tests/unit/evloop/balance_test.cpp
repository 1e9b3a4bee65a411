// Several loops, and the balance modes that hand them connections.
#include <map>

#include "doctest/doctest.h"
#include "support.hpp"

using namespace t;
using evloop::Action;
using evloop::Conn;

TEST_CASE("every balance mode spreads connections over all loops, each getting at least 10%") {
    constexpr int kLoops = 4, kConns = 200;
    for (auto backend : backends()) {
        for (auto mode :
             {evloop::Balance::round_robin, evloop::Balance::random, evloop::Balance::least_connections}) {
            CAPTURE(std::string(evloop::backend_name(backend)));
            CAPTURE(static_cast<int>(mode));
            std::mutex mutex;
            std::map<int, int> per_loop;
            evloop::Events ev;
            ev.data = [&](Conn c, std::string_view in) {
                {
                    std::lock_guard lock(mutex);
                    ++per_loop[c.loop_index()];
                }
                c.write(in);
                return Action::none;
            };
            Running server(ev, {.loops = kLoops, .balance = mode, .backend = backend});
            for (int i = 0; i < kConns; ++i) {
                Client c(server.url());  // short-lived: least-connections sees ties
                c.send("x");
                REQUIRE(c.recv_exact(1) == "x");
            }
            std::lock_guard lock(mutex);
            REQUIRE(per_loop.size() == kLoops);
            for (const auto& entry : per_loop) {
                CAPTURE(entry.first);
                CHECK(entry.second >= kConns / 10);
            }
        }
    }
}

TEST_CASE("least-connections sends a new connection to the loop with the fewest open") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        std::mutex mutex;
        std::map<int, int> open;
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view in) {
            std::lock_guard lock(mutex);
            ++open[c.loop_index()];
            c.write(in);
            return Action::none;
        };
        Running server(ev, {.loops = 3, .balance = evloop::Balance::least_connections, .backend = backend});
        std::vector<std::unique_ptr<Client>> clients;
        for (int i = 0; i < 30; ++i) {
            clients.push_back(std::make_unique<Client>(server.url()));
            clients.back()->send("x");
            REQUIRE(clients.back()->recv_exact(1) == "x");
        }
        std::lock_guard lock(mutex);
        for (auto [loop, n] : open)
            CHECK(n == 10);
    }
}

TEST_CASE("with one reuseport acceptor per loop max_conns is never exceeded") {
    // Four acceptors on four threads race for the last places: the check and the
    // increment must be one step.
    constexpr int kCap = 8;
    std::atomic<int> open{0}, peak{0};
    evloop::Events ev;
    ev.opened = [&](Conn, evloop::ConnOptions&) {
        int now = ++open;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        return Action::none;
    };
    ev.closed = [&](Conn, int) { --open; };
    Running server(ev, {.loops = 4, .max_conns = kCap}, {"tcp://127.0.0.1:0?reuseport=true"});
    for (int round = 0; round < 20; ++round) {
        std::vector<std::thread> threads;
        std::mutex mutex;
        std::vector<std::unique_ptr<Client>> clients;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < 16; ++i) {
                    auto c = std::make_unique<Client>(server.url());
                    std::lock_guard lock(mutex);
                    clients.push_back(std::move(c));
                }
            });
        for (auto& th : threads)
            th.join();
        std::this_thread::sleep_for(10ms);
        clients.clear();
        REQUIRE(eventually([&] { return open.load() == 0; }));
    }
    CHECK(peak.load() <= kCap);
}
