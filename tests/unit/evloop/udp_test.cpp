// UDP: one datagram in, one data event, at most one datagram out; no state kept per peer.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "common/address.hpp"
#include "doctest/doctest.h"
#include "support.hpp"

namespace {

// A UDP socket that sends to `url`, with receives bounded in time.
struct UdpClient {
    explicit UdpClient(const std::string& url) {
        std::string why;
        auto a = common::parse_address(url, &why);
        REQUIRE(a);
        target = *a;
        fd = ::socket(a->family(), SOCK_DGRAM, 0);
        timeval tv{static_cast<long>(t::scaled(t::ms(2000)).count() / 1000), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~UdpClient() { ::close(fd); }
    void send(const std::string& payload) {
        REQUIRE(::sendto(fd, payload.data(), payload.size(), 0,
                         reinterpret_cast<const sockaddr*>(&target.storage),
                         target.length) == static_cast<long>(payload.size()));
    }
    // The next datagram, or nothing (-1) when none arrives in time.
    long recv(std::string* out) {
        out->assign(65536, '\0');
        long n = ::recv(fd, out->data(), out->size(), 0);
        out->resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return n;
    }
    common::Address target;
    int fd = -1;
};

}  // namespace

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
        UdpClient client(server.url());
        for (std::string payload : {std::string("one"), std::string(), std::string(9000, 'u')}) {
            CAPTURE(payload.size());
            client.send(payload);
            std::string got;
            REQUIRE(client.recv(&got) == static_cast<long>(payload.size()));
            CHECK(got == payload);
        }
    }
}

TEST_CASE("UDP keeps no context from one datagram, or one peer, to the next") {
    evloop::Events ev;
    ev.data = [](evloop::Conn c, std::string_view in) {
        c.write(c.context().has_value() ? "stale" : "fresh");
        c.context() = std::string(in);
        return evloop::Action::none;
    };
    t::Running server(ev, {}, {"udp://127.0.0.1:0"});
    UdpClient first(server.url()), second(server.url());
    std::string got;
    first.send("mine");
    REQUIRE(first.recv(&got) > 0);
    CHECK(got == "fresh");
    second.send("yours");
    REQUIRE(second.recv(&got) > 0);
    CHECK(got == "fresh");
}

TEST_CASE("a UDP reply too large for a datagram is dropped with a warning, not silently") {
    evloop::Events ev;
    ev.data = [](evloop::Conn c, std::string_view) {
        c.write(std::string(70000, 'x'));  // over the 65,507 bytes IPv4 can carry
        return evloop::Action::none;
    };
    // Catch this process's stderr for the length of the test.
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    std::fflush(stderr);
    int saved = ::dup(2);
    ::dup2(pipe_fds[1], 2);
    std::string said;
    {
        t::Running server(ev, {}, {"udp://127.0.0.1:0"});
        UdpClient client(server.url());
        client.send("big please");
        timeval tv{0, 300000};
        ::setsockopt(client.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string got;
        CHECK(client.recv(&got) < 0);  // nothing came back
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    char buf[4096];
    long n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n > 0) said.assign(buf, static_cast<std::size_t>(n));
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    CHECK(said.find("70000 bytes was dropped") != std::string::npos);
}
