// How connections end: the half-close, the closed callback exactly once on every path,
// and a graceful stop that drains pending output.
#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>

#include "doctest/doctest.h"
#include "support.hpp"

using namespace t;
using evloop::Action;
using evloop::Conn;

TEST_CASE("after the peer's EOF the application can still reply and then the server shuts down its side") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        evloop::Events ev;
        ev.data = [](Conn c, std::string_view in) {
            c.write(in);
            return Action::none;
        };
        ev.eof = [](Conn c) {
            c.write("<bye>");
            return Action::close;
        };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.send("question");
        c.shutdown_write();
        CHECK(c.recv_until_eof() == "question<bye>");
    }
}

TEST_CASE("a half-closed connection stays writable until the application ends it") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.eof = [&](Conn c) {
            c.after(100ms, [](Conn later) {
                later.write("late answer");
                later.close();
            });
            return Action::none;  // not done yet: the answer comes from the timer
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.shutdown_write();
        CHECK(c.recv_until_eof() == "late answer");
        CHECK(log.wait_count("closed 0", 1));
    }
}

TEST_CASE("a half-closed connection nobody ends is closed by the close timeout") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.eof = [](Conn) { return Action::none; };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        evloop::Options opt{.backend = backend};
        opt.close_timeout = 200ms;
        Running server(ev, opt);
        Client c(server.url());
        c.shutdown_write();
        auto start = std::chrono::steady_clock::now();
        CHECK(c.recv_until_eof() == "");
        CHECK(std::chrono::steady_clock::now() - start >= 200ms);
        CHECK(log.wait_count("closed " + std::to_string(ETIMEDOUT), 1));
    }
}

TEST_CASE("the closed callback fires exactly once on every way a connection can end") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [](Conn c, std::string_view in) {
            if (in == "close") return Action::close;
            if (in == "flood") c.write(std::string(8 << 20, 'f'));  // over max_output
            c.write(in);
            return Action::none;
        };
        ev.closed = [&](Conn, int) { log.add("closed"); };
        evloop::Options opt{.backend = backend, .idle_timeout = scaled(1500ms)};
        opt.max_output = 4 << 20;
        std::size_t expected = 0;
        {
            Running server(ev, opt);
            {
                Client peer_closes(server.url());  // the peer closes first
            }
            Client action_close(server.url());
            action_close.send("close");
            CHECK(action_close.recv_until_eof() == "");
            Client overflow(server.url());
            overflow.send("flood");
            Client reset(server.url());
            linger lg{1, 0};  // close with RST
            ::setsockopt(reset.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            reset.close();
            Client idle(server.url());
            CHECK(idle.recv_until_eof(scaled(5000ms)) == "");
            Client at_stop(server.url());
            at_stop.send("s");
            REQUIRE(at_stop.recv_exact(1) == "s");
            expected = 6;
            REQUIRE(log.wait_count("closed", 5));
        }  // stopping closes the last one
        CHECK(log.count("closed") == expected);
    }
}

TEST_CASE("stop lets pending output drain before closing") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view) {
            // More than loopback's autotuned socket buffers hold, so most of it is still
            // in the library's buffer when the stop arrives.
            c.write(std::string(32 << 20, 'z'));
            log.add("queued");
            return Action::none;
        };
        evloop::Options opt{.backend = backend};
        opt.stop_timeout = scaled(10000ms);
        auto server = std::make_unique<Running>(ev, opt);
        Client c(server->url());
        c.send("go");
        REQUIRE(log.wait_count("queued", 1));
        server->stop();
        CHECK(c.recv_until_eof(scaled(10000ms)).size() == (32u << 20));
        CHECK(server->wait_returned(scaled(3000ms)));
    }
}

TEST_CASE("the close timeout bounds a half-closed connection that stalls, not one still sending") {
    // A download that goes on after the client's FIN (a relay's, say) must not be cut off
    // while bytes still flow; close_timeout counts from the last progress.
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        std::function<void(Conn, int)> send_next = [&](Conn c, int left) {
            c.write(std::string(1000, static_cast<char>('a' + left)));
            if (left == 0) return c.close();
            c.after(100ms, [&, left](Conn later) { send_next(later, left - 1); });
        };
        ev.eof = [&](Conn c) {
            send_next(c, 9);  // ten pieces over about a second
            return Action::none;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        evloop::Options opt{.backend = backend};
        opt.close_timeout = 300ms;
        Running server(ev, opt);
        Client c(server.url());
        c.shutdown_write();
        CHECK(c.recv_until_eof(scaled(5000ms)).size() == 10000);
        CHECK(log.wait_count("closed 0", 1));
    }
}
