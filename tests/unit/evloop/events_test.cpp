// The events themselves: their order, wake, tick, the before-write hook, input buffers.
#include <set>

#include "doctest/doctest.h"
#include "support.hpp"

using namespace t;
using evloop::Action;
using evloop::Conn;

TEST_CASE("events fire in order: serving, opened, data, eof, closed") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.serving = [&](const evloop::ServerInfo& info) {
            log.add("serving " + std::to_string(info.loops));
            return Action::none;
        };
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            log.add("opened " + std::to_string(c.addr_index()));
            return Action::none;
        };
        ev.data = [&](Conn c, std::string_view in) {
            log.add("data " + std::string(in));
            c.write(in);
            return Action::none;
        };
        ev.eof = [&](Conn) {
            log.add("eof");
            return Action::close;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend});
        {
            Client c(server.url());
            c.send("ping");
            CHECK(c.recv_exact(4) == "ping");
            c.shutdown_write();
            CHECK(c.recv_until_eof() == "");
        }
        REQUIRE(log.wait_count("closed 0", 1));
        CHECK(log.entries() ==
              std::vector<std::string>{"serving 1", "opened 0", "data ping", "eof", "closed 0"});
    }
}

TEST_CASE("a connection knows its address index, loop, and local and remote addresses") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            log.add(std::to_string(c.addr_index()) + " " + std::to_string(c.loop_index()) + " " +
                    c.local_addr().url + " " + (c.remote_addr().url.empty() ? "?" : "remote"));
            return Action::close;
        };
        Running server(ev, {.backend = backend}, {"tcp://127.0.0.1:0", "tcp4://127.0.0.1:0"});
        Client c(server.url(1));
        CHECK(c.recv_until_eof() == "");
        REQUIRE(log.wait_count("1 0 " + server.url(1) + " remote", 1));
    }
}

TEST_CASE("wake delivers a data event with empty input") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        std::mutex mutex;
        evloop::Handle handle;
        Log log;
        evloop::Events ev;
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            std::lock_guard lock(mutex);
            handle = c.handle();
            log.add("opened");
            return Action::none;
        };
        ev.data = [&](Conn c, std::string_view in) {
            c.write(in.empty() ? "<woken>" : in);
            return Action::none;
        };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        REQUIRE(log.wait_count("opened", 1));
        std::lock_guard lock(mutex);
        CHECK(handle.wake());
        CHECK(c.recv_exact(7) == "<woken>");
    }
}

TEST_CASE("a wake for a closed connection is ignored") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        std::mutex mutex;
        std::vector<evloop::Handle> handles;
        Log log;
        evloop::Events ev;
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            std::lock_guard lock(mutex);
            handles.push_back(c.handle());
            return Action::none;
        };
        ev.data = [&](Conn c, std::string_view in) {
            log.add(in.empty() ? "woken" : "data");
            c.write(in);
            return Action::none;
        };
        ev.closed = [&](Conn, int) { log.add("closed"); };
        Running server(ev, {.backend = backend});
        {
            Client first(server.url());
            first.send("x");
            first.recv_exact(1);
        }
        REQUIRE(log.wait_count("closed", 1));
        Client second(server.url());  // likely on the same fd number as the first
        second.send("y");
        CHECK(second.recv_exact(1) == "y");
        {
            std::lock_guard lock(mutex);
            REQUIRE(handles.size() == 2);
            handles[0].wake();
        }
        CHECK(second.silent_for(scaled(200ms)));
        CHECK(log.count("woken") == 0);
    }
}

TEST_CASE("tick runs at start and then after each requested delay, never early and not much late") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        using Clock = std::chrono::steady_clock;
        std::mutex mutex;
        std::vector<Clock::time_point> ticks;
        auto started = Clock::now();
        evloop::Events ev;
        ev.tick = [&](evloop::Duration& delay) {
            std::lock_guard lock(mutex);
            ticks.push_back(Clock::now());
            delay = 50ms;
            return ticks.size() == 6 ? Action::shutdown : Action::none;
        };
        Running server(ev, {.backend = backend});
        REQUIRE(server.wait_returned(scaled(5000ms)));
        std::lock_guard lock(mutex);
        REQUIRE(ticks.size() == 6);
        CHECK(ticks[0] - started < scaled(1000ms));
        for (std::size_t i = 1; i < ticks.size(); ++i) {
            auto gap = std::chrono::duration_cast<std::chrono::microseconds>(ticks[i] - ticks[i - 1]);
            CAPTURE(gap.count());
            CHECK(gap >= 50ms);
            CHECK(gap < 50ms + scaled(100ms));
        }
    }
}

TEST_CASE("the before-write hook sees every write attempt and its size first") {
    // With nothing queued each write goes straight to the kernel, so each is an attempt of its own.
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view in) {
            log.add("data");
            c.write(in);
            c.write("!");
            return Action::none;
        };
        ev.pre_write = [&](Conn c, std::size_t amount) {
            log.add("pre_write " + std::to_string(amount) + " pending " + std::to_string(c.pending_output()));
        };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.send("abc");
        CHECK(c.recv_exact(4) == "abc!");
        auto e = log.entries();
        REQUIRE(e.size() == 3);
        CHECK(e[0] == "data");
        CHECK(e[1] == "pre_write 3 pending 0");
        CHECK(e[2] == "pre_write 1 pending 0");
    }
}

TEST_CASE("a connection's timer fires on its loop, a cancelled one never, and none after the close") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            auto cancelled = c.after(30ms, [&](Conn) { log.add("cancelled fired"); });
            c.cancel_timer(cancelled);
            c.after(60ms, [&](Conn conn) {
                log.add("fired");
                conn.write("tick");
            });
            c.after(scaled(300ms), [&](Conn) { log.add("late fired"); });  // the client has gone by then
            return Action::none;
        };
        Running server(ev, {.backend = backend});
        auto start = std::chrono::steady_clock::now();
        {
            Client c(server.url());
            CHECK(c.recv_exact(4) == "tick");
            CHECK(std::chrono::steady_clock::now() - start >= 60ms);
        }
        std::this_thread::sleep_for(scaled(400ms));
        CHECK(log.entries() == std::vector<std::string>{"fired"});
    }
}

TEST_CASE("cancel_timer refuses ids that are not the connection's own timers") {
    // Timer ids are small numbers the library also uses for its own timers (the idle
    // timeout, say): cancelling a guessed id must not switch those off.
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view) {  // once open, when the idle timer exists
            std::uint64_t mine = c.after(std::chrono::hours(1), [](Conn) {});
            int refused = 0;
            for (std::uint64_t id = 0; id < mine + 100; ++id)
                if (id != mine && !c.cancel_timer(id)) ++refused;
            log.add(refused == static_cast<int>(mine + 99) ? "refused all" : "cancelled some");
            CHECK(c.cancel_timer(mine));
            CHECK_FALSE(c.cancel_timer(mine));  // only once
            return Action::none;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend, .idle_timeout = scaled(200ms)});
        Client c(server.url());
        c.send("x");
        CHECK(log.wait_count("refused all", 1));
        CHECK(c.recv_until_eof(scaled(3000ms)) == "");  // the idle timeout still works
        CHECK(log.wait_count("closed " + std::to_string(ETIMEDOUT), 1));
    }
}
