// Reaching connections from other threads through Handle: ordering, races, fd reuse.
#include "doctest/doctest.h"
#include "support.hpp"

using namespace t;
using evloop::Action;
using evloop::Conn;

namespace {
// A server whose data event records each connection's handle and echoes, and whose
// wake appends "<W>".
struct Recorder {
    std::mutex mutex;
    std::vector<evloop::Handle> handles;
    std::vector<int> fds;
    Log log;
    evloop::Events events() {
        evloop::Events ev;
        ev.opened = [this](Conn c, evloop::ConnOptions&) {
            std::lock_guard lock(mutex);
            handles.push_back(c.handle());
            fds.push_back(c.fd());
            log.add("opened");
            return Action::none;
        };
        ev.data = [](Conn c, std::string_view in) {
            c.write(in.empty() ? std::string_view("<W>") : in);
            return Action::none;
        };
        ev.closed = [this](Conn, int) { log.add("closed"); };
        return ev;
    }
    evloop::Handle handle(std::size_t i) {
        std::lock_guard lock(mutex);
        return handles.at(i);
    }
};
}  // namespace

TEST_CASE("wake and writes from another thread while output is pending lose nothing and keep order") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Recorder r;
        Running server(r.events(), {.backend = backend});
        Client c(server.url());
        REQUIRE(r.log.wait_count("opened", 1));
        auto h = r.handle(0);
        std::string big(8 << 20, 'b');  // far more than the socket buffers hold: stays pending
        std::thread writer([&] {
            CHECK(h.write(big));
            CHECK(h.wake());
            CHECK(h.write("<tail>"));
            CHECK(h.wake());
        });
        writer.join();
        auto got = c.recv_exact(big.size() + 3 + 6 + 3, scaled(20000ms));
        CHECK(got.substr(0, big.size()) == big);
        CHECK(got.substr(big.size()) == "<W><tail><W>");
    }
}

TEST_CASE("writes from many threads arrive whole and each thread's in its order") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Recorder r;
        Running server(r.events(), {.loops = 2, .backend = backend});
        Client c(server.url());
        REQUIRE(r.log.wait_count("opened", 1));
        auto h = r.handle(0);
        constexpr int kThreads = 4, kWrites = 500;
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([h, t] {
                for (int i = 0; i < kWrites; ++i)
                    h.write(std::string(1, static_cast<char>('a' + t)) + "0123456789");
            });
        for (auto& th : threads)
            th.join();
        auto got = c.recv_exact(std::size_t{kThreads} * kWrites * 11, scaled(10000ms));
        std::vector<int> seen(kThreads, 0);
        for (std::size_t i = 0; i < got.size(); i += 11) {
            REQUIRE(got.substr(i + 1, 10) == "0123456789");
            ++seen[static_cast<std::size_t>(got[i] - 'a')];
        }
        for (int n : seen)
            CHECK(n == kWrites);
    }
}

TEST_CASE("close from another thread racing wakes closes exactly once") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Recorder r;
        Running server(r.events(), {.loops = 2, .backend = backend});
        constexpr int kConns = 20;
        std::vector<std::unique_ptr<Client>> clients;
        for (int i = 0; i < kConns; ++i)
            clients.push_back(std::make_unique<Client>(server.url()));
        REQUIRE(r.log.wait_count("opened", kConns));
        std::vector<std::thread> threads;
        for (int i = 0; i < kConns; ++i) {
            auto h = r.handle(static_cast<std::size_t>(i));
            threads.emplace_back([h] {
                for (int k = 0; k < 50; ++k)
                    h.wake();
            });
            threads.emplace_back([h] {
                h.close();
                h.close();
            });
        }
        for (auto& th : threads)
            th.join();
        for (auto& c : clients)
            c->recv_until_eof();  // some <W>s, then the close
        CHECK(r.log.wait_count("closed", kConns));
        CHECK(r.log.count("closed") == kConns);
    }
}

TEST_CASE("a write aimed at a closed connection never reaches the one that reused its fd") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Recorder r;
        Running server(r.events(), {.backend = backend});
        {
            Client first(server.url());
            REQUIRE(r.log.wait_count("opened", 1));
        }
        REQUIRE(r.log.wait_count("closed", 1));
        Client second(server.url());
        REQUIRE(r.log.wait_count("opened", 2));
        {
            std::lock_guard lock(r.mutex);
            REQUIRE(r.fds[0] == r.fds[1]);  // the precondition: the fd number was reused
        }
        auto stale = r.handle(0);
        std::thread([stale] {
            stale.write("stale!");
            stale.wake();
            stale.close();
            stale.run([](Conn c) { c.write("run!"); });
        }).join();
        CHECK(second.silent_for(scaled(200ms)));
        second.send("fresh");
        CHECK(second.recv_exact(5) == "fresh");
        CHECK(r.handle(1).generation() != stale.generation());
    }
}

TEST_CASE("handles fail once the server has stopped, and stay safe to use") {
    Recorder r;
    evloop::Handle h;
    {
        Running server(r.events(), {});
        Client c(server.url());
        REQUIRE(r.log.wait_count("opened", 1));
        h = r.handle(0);
        CHECK(h.run([](Conn conn) { conn.write("ok"); }));
        CHECK(c.recv_exact(2) == "ok");
    }
    CHECK_FALSE(h.wake());
    CHECK_FALSE(h.write("late"));
}
