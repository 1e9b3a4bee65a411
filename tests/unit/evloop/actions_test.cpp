// Actions returned from callbacks: close, shutdown, detach.
#include <sys/socket.h>
#include <unistd.h>

#include "doctest/doctest.h"
#include "support.hpp"

using namespace t;
using evloop::Action;
using evloop::Conn;

TEST_CASE("close returned from opened sends the greeting, then closes without reading") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            c.write("bye");
            return Action::close;
        };
        ev.data = [&](Conn, std::string_view) {
            log.add("data");
            return Action::none;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        CHECK(c.recv_until_eof() == "bye");
        REQUIRE(log.wait_count("closed 0", 1));
        CHECK(log.count("data") == 0);
    }
}

TEST_CASE("close returned from data flushes the reply, then closes") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view in) {
            c.write(std::string(1 << 20, 'r'));  // more than one write can take
            c.write(in);
            return Action::close;
        };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.send("end");
        auto got = c.recv_until_eof();
        CHECK(got.size() == (1u << 20) + 3);
        CHECK(got.substr(got.size() - 3) == "end");
    }
}

TEST_CASE("shutdown returned from opened stops the server") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.opened = [&](Conn, evloop::ConnOptions&) { return Action::shutdown; };
        ev.closed = [&](Conn, int) { log.add("closed"); };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        CHECK(c.recv_until_eof() == "");
        CHECK(server.wait_returned(scaled(3000ms)));
        CHECK(log.count("closed") == 1);
    }
}

TEST_CASE("shutdown returned from data stops the server after flushing the reply") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view in) {
            c.write(in);
            return Action::shutdown;
        };
        Running server(ev, {.loops = 2, .backend = backend});
        Client c(server.url());
        c.send("last");
        CHECK(c.recv_until_eof() == "last");
        CHECK(server.wait_returned(scaled(3000ms)));
    }
}

TEST_CASE("detach flushes pending output first, then hands over a working blocking socket") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        std::string big(32 << 20, 'd');  // more than loopback's socket buffers hold
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view) {
            c.write(big);
            return Action::detach;
        };
        ev.detached = [&](Conn c, int fd) {
            log.add(c.pending_output() == 0 ? "detached flushed" : "detached early");
            // Blocking now: a plain write is complete, and the library no longer reads.
            const char tail[] = "<after>";
            CHECK(::write(fd, tail, sizeof tail - 1) == static_cast<long>(sizeof tail - 1));
            ::close(fd);
        };
        ev.closed = [&](Conn, int) { log.add("closed"); };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.send("go");
        auto got = c.recv_until_eof(scaled(10000ms));
        CHECK(got.size() == big.size() + 7);
        CHECK(got.substr(big.size()) == "<after>");
        CHECK(log.count("detached flushed") == 1);
        CHECK(log.count("closed") == 0);  // detached connections are the application's
    }
}
