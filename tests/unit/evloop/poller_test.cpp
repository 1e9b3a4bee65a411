// The poller seam: every backend reports the same three facts for the same socket states.
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

        REQUIRE(poller->modify(sv[0], kReadable | kWritable) == 0);
        e = event_for(*poller, sv[0], 1000);
        CHECK(e.readable);
        CHECK(e.writable);

        REQUIRE(poller->modify(sv[0], kNone) == 0);
        CHECK(event_for(*poller, sv[0], 0).fd == -1);

        REQUIRE(poller->modify(sv[0], kReadable) == 0);
        ::close(sv[1]);  // the peer goes: readable (data, then EOF)
        e = event_for(*poller, sv[0], 1000);
        CHECK(e.readable);

        REQUIRE(poller->remove(sv[0]) == 0);
        CHECK(event_for(*poller, sv[0], 0).fd == -1);
        CHECK(poller->remove(sv[0]) != 0);
        ::close(sv[0]);
    }
}

TEST_CASE("UDP answers each datagram with one datagram, an empty one included") {
    for (auto backend : t::backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        evloop::Events ev;
        ev.data = [](evloop::Conn c, std::string_view in) {
            CHECK(c.is_udp());
            CHECK_FALSE(c.handle());
            c.write(in);
            return evloop::Action::none;
        };
        t::Running server(ev, {.backend = backend}, {"udp://127.0.0.1:0"});
        std::string why;
        auto a = common::parse_address(server.url(), &why);
        REQUIRE(a);
        int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        timeval tv{static_cast<long>(t::scaled(t::ms(2000)).count() / 1000), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        for (std::string payload : {std::string("one"), std::string(), std::string(9000, 'u')}) {
            CAPTURE(payload.size());
            REQUIRE(::sendto(fd, payload.data(), payload.size(), 0,
                             reinterpret_cast<const sockaddr*>(&a->storage),
                             a->length) == static_cast<long>(payload.size()));
            std::string got(65536, '\0');
            long n = ::recv(fd, got.data(), got.size(), 0);
            REQUIRE(n == static_cast<long>(payload.size()));
            got.resize(static_cast<std::size_t>(n));
            CHECK(got == payload);
        }
        ::close(fd);
    }
}
