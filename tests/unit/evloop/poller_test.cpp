// The poller seam: every backend reports the same three facts for the same socket states.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/address.hpp"
#include "doctest/doctest.h"
#include "poller.hpp"
#include "support.hpp"

using namespace evloop::detail;

namespace {
// The one event for fd in a wait of up to timeout_ms, or an event with fd -1.
PollEvent event_for(Poller& p, int fd, int timeout_ms) {
    std::vector<PollEvent> events;
    int n = p.wait(events, timeout_ms);
    REQUIRE(n >= 0);
    PollEvent found;
    int seen = 0;
    for (const auto& e : events)
        if (e.fd == fd) {
            found = e;
            ++seen;
        }
    CHECK(seen <= 1);  // read and write readiness come merged into one event
    return found;
}
}  // namespace

TEST_CASE("every backend normalises readable, writable and hang-up the same way") {
    for (auto backend : t::backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        int err = 0;
        auto poller = make_poller(backend, &err);
        REQUIRE(poller);
        CHECK(std::string(poller->name()) == evloop::backend_name(backend));
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        REQUIRE(poller->add(sv[0], kReadable) == 0);
        CHECK(event_for(*poller, sv[0], 0).fd == -1);  // nothing to read yet

        REQUIRE(::write(sv[1], "x", 1) == 1);
        auto e = event_for(*poller, sv[0], 1000);
        CHECK(e.readable);
        CHECK_FALSE(e.writable);  // not asked for
        CHECK_FALSE(e.hangup);
        CHECK(event_for(*poller, sv[0], 0).readable);  // level-triggered: still there

        REQUIRE(poller->modify(sv[0], kReadable, kReadable | kWritable) == 0);
        e = event_for(*poller, sv[0], 1000);
        CHECK(e.readable);
        CHECK(e.writable);

        REQUIRE(poller->modify(sv[0], kReadable | kWritable, kNone) == 0);
        CHECK(event_for(*poller, sv[0], 0).fd == -1);

        REQUIRE(poller->modify(sv[0], kNone, kReadable) == 0);
        ::close(sv[1]);  // the peer goes: readable (data, then EOF)
        e = event_for(*poller, sv[0], 1000);
        CHECK(e.readable);

        REQUIRE(poller->remove(sv[0], kReadable) == 0);
        CHECK(event_for(*poller, sv[0], 0).fd == -1);
        ::close(sv[0]);
    }
}

namespace {
// A connected TCP pair on loopback: {the accepted side, the client side}.
std::pair<int, int> tcp_pair() {
    t::Listener listener;
    t::Client client(listener.url);
    int accepted = listener.accept();
    return {accepted, client.release()};
}
}  // namespace

TEST_CASE("every backend reports a reset as a hangup even for an fd with no interest") {
    // What the loop counts on for a half-closed connection that waits for its application:
    // it asks for nothing, and must still hear that the peer has gone.
    for (auto backend : t::backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        int err = 0;
        auto poller = make_poller(backend, &err);
        REQUIRE(poller);
        auto [accepted, client] = tcp_pair();
        ::shutdown(client, SHUT_WR);  // the half-close: EOF is pending, and must not be reported
        REQUIRE(poller->add(accepted, kNone) == 0);
        CHECK(event_for(*poller, accepted, 100).fd == -1);
        linger hard{1, 0};
        REQUIRE(::setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == 0);
        ::close(client);  // a reset
        auto e = event_for(*poller, accepted, 1000);
        CHECK(e.fd == accepted);
        CHECK(e.hangup);
        REQUIRE(poller->remove(accepted, kNone) == 0);
        ::close(accepted);
    }
}

TEST_CASE("a backend keeps no record of an fd whose registration failed") {
    for (auto backend : t::backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        int err = 0;
        auto poller = make_poller(backend, &err);
        REQUIRE(poller);
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        int number = sv[0];
        ::close(sv[0]);
        int refused = poller->add(number, kReadable);  // a closed fd: epoll and kqueue refuse it
        int again[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, again) == 0);
        REQUIRE(again[0] == number);                                   // the lowest free number comes back
        if (refused != 0) CHECK(poller->add(number, kReadable) == 0);  // nothing stale was kept
        ::close(again[0]);
        ::close(again[1]);
        ::close(sv[1]);
    }
}
