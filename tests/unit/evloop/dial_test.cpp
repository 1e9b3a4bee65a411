// Dialling out: every outcome of a connect is an event, and a dialled connection lives
// like an accepted one.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/address.hpp"
#include "doctest/doctest.h"
#include "support.hpp"

using evloop::Action;
using evloop::Conn;
using namespace t;

namespace {

// A port on loopback with nobody listening.
std::string refused_url() {
    Listener l;
    std::string url = l.url;
    return url;  // closed when l goes
}

}  // namespace

TEST_CASE("a dialled connection opens with its context and carries data both ways like an accepted one") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            if (!c.is_dialed()) return Action::none;
            log.add("dialled " + std::any_cast<std::string>(c.context()) + " " +
                    std::to_string(c.addr_index()));
            c.write("hello from the dialler");
            return Action::none;
        };
        ev.data = [&](Conn c, std::string_view in) {
            if (c.is_dialed()) {
                log.add("reply " + std::string(in));
                return Action::close;
            }
            c.write(in);  // the accepted side echoes
            return Action::none;
        };
        ev.closed = [&](Conn c, int error) {
            log.add(std::string(c.is_dialed() ? "dialled" : "accepted") + " closed " + std::to_string(error));
        };
        Running server(ev, {.backend = backend});
        REQUIRE_FALSE(server.server->dial(server.url(), {.context = std::string("ctx")}));
        CHECK(log.wait_count("dialled ctx -1", 1));
        CHECK(log.wait_count("reply hello from the dialler", 1));
        CHECK(log.wait_count("dialled closed 0", 1));
        CHECK(log.wait_count("accepted closed 0", 1));
    }
}

TEST_CASE("a refused dial fails with ECONNREFUSED and a missing unix path with ENOENT") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.dial_failed = [&](const std::string& url, std::any& context, int error) {
            log.add(std::any_cast<std::string>(context) + " " + std::to_string(error) + " " + url);
        };
        ev.opened = [&](Conn, evloop::ConnOptions&) {
            log.add("opened");
            return Action::none;
        };
        Running server(ev, {.backend = backend});
        std::string refused = refused_url();
        REQUIRE_FALSE(server.server->dial(refused, {.context = std::string("tcp")}));
        CHECK(log.wait_count("tcp " + std::to_string(ECONNREFUSED) + " " + refused, 1));
        std::string path = "unix:///tmp/evloop-no-such-socket-" + std::to_string(::getpid());
        REQUIRE_FALSE(server.server->dial(path, {.context = std::string("unix")}));
        CHECK(log.wait_count("unix " + std::to_string(ENOENT) + " " + path, 1));
        CHECK(log.count("opened") == 0);
    }
}

TEST_CASE("a dial that gets no answer fails with ETIMEDOUT after its timeout") {
    // A listener whose accept queue is full makes Linux drop further SYNs, so a connect to
    // it waits for an answer that does not come: a stalled peer, on loopback.
    Log log;
    evloop::Events ev;
    ev.dial_failed = [&](const std::string&, std::any&, int error) { log.add(std::to_string(error)); };
    Running server(ev, {});
    Listener full;
    ::listen(full.fd, 0);
    std::vector<int> fillers;
    std::string why;
    auto a = common::parse_address(full.url, &why);
    for (int i = 0; i < 4; ++i) {
        int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(f, reinterpret_cast<const sockaddr*>(&a->storage), a->length);
        fillers.push_back(f);
    }
    std::this_thread::sleep_for(50ms);
    auto start = std::chrono::steady_clock::now();
    REQUIRE_FALSE(server.server->dial(full.url, {.timeout = 300ms}));
    CHECK(log.wait_count(std::to_string(ETIMEDOUT), 1, scaled(3000ms)));
    CHECK(std::chrono::steady_clock::now() - start >= 300ms);
    for (int f : fillers)
        ::close(f);
}

TEST_CASE("a dial from another thread reaches a loop that is busy and opens there") {
    Log log;
    std::atomic<bool> busy{true};
    evloop::Events ev;
    ev.opened = [&](Conn c, evloop::ConnOptions&) {
        if (c.is_dialed()) log.add("dialled on loop " + std::to_string(c.loop_index()));
        return Action::none;
    };
    ev.data = [&](Conn, std::string_view) {
        // Keeps loop 0 busy, so the dial waits in its mailbox until this returns.
        while (busy.load())
            std::this_thread::sleep_for(1ms);
        log.add("busy done");
        return Action::none;
    };
    Running server(ev, {.loops = 2, .balance = evloop::Balance::round_robin});
    Listener peer;
    Client c(server.url());  // round-robin hands the first connection to loop 0
    c.send("spin");
    std::this_thread::sleep_for(50ms);
    REQUIRE_FALSE(server.server->dial(peer.url, {}, 0));
    std::this_thread::sleep_for(100ms);
    CHECK(log.count("dialled on loop 0") == 0);  // still busy
    busy = false;
    CHECK(log.wait_count("busy done", 1));
    CHECK(log.wait_count("dialled on loop 0", 1));
}

TEST_CASE("dial refuses what it cannot dial before anything starts") {
    Running server(evloop::Events{}, {});
    auto& s = *server.server;
    CHECK(s.dial("tcp://example.com:80").code == EINVAL);  // names are never resolved
    CHECK(s.dial("udp://127.0.0.1:9").code == EPROTONOSUPPORT);
    CHECK(s.dial("tcp://127.0.0.1:0").code == EINVAL);
    CHECK(s.dial("tcp://127.0.0.1:80", {}, 7).code == EINVAL);  // no such loop
    evloop::Server idle(evloop::Events{}, {});
    CHECK(idle.dial("tcp://127.0.0.1:80").code == ENOTCONN);  // not serving
}
