// Listeners: the real port is reported, errors name the address, flags are as promised.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "common/listen.hpp"

using common::listen_on;
using common::ListenOptions;
using common::parse_address;

TEST_CASE("listen: port 0 binds a free port and local_url reports it") {
    auto address = parse_address("tcp://127.0.0.1:0", nullptr);
    REQUIRE(address);
    std::string error;
    auto fd = listen_on(*address, {}, &error);
    REQUIRE_MESSAGE(fd, error);
    auto url = common::local_url(fd.get(), *address);
    CHECK(url.rfind("tcp://127.0.0.1:", 0) == 0);
    CHECK(url != "tcp://127.0.0.1:0");
    auto reparsed = parse_address(url, nullptr);
    REQUIRE(reparsed);
    CHECK(reparsed->port != 0);
}

TEST_CASE("listen: a taken port fails with the address and the reason") {
    auto any = parse_address("tcp://127.0.0.1:0", nullptr);
    REQUIRE(any);
    std::string error;
    auto first = listen_on(*any, {}, &error);
    REQUIRE_MESSAGE(first, error);
    auto taken = parse_address(common::local_url(first.get(), *any), nullptr);
    REQUIRE(taken);
    auto second = listen_on(*taken, {}, &error);
    CHECK_FALSE(second);
    CHECK(error == "cannot listen on " + taken->url() + ": Address already in use");
}

TEST_CASE("listen: sockets are close-on-exec and non-blocking only when asked") {
    auto address = parse_address("tcp://127.0.0.1:0", nullptr);
    REQUIRE(address);
    std::string error;
    auto blocking = listen_on(*address, {}, &error);
    auto nonblocking = listen_on(*address, ListenOptions{.nonblocking = true}, &error);
    REQUIRE(blocking);
    REQUIRE(nonblocking);
    CHECK((fcntl(blocking.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((fcntl(nonblocking.get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((fcntl(blocking.get(), F_GETFL) & O_NONBLOCK) == 0);
    CHECK((fcntl(nonblocking.get(), F_GETFL) & O_NONBLOCK) != 0);
}

TEST_CASE("listen: an IPv6 wildcard listener sets v6only exactly as asked") {
    // Only the wildcard address can be dual-stack: Linux forces v6only on when a
    // socket binds a specific IPv6 address such as ::1 (see inet6_bind).
    auto address = parse_address("tcp6://[::]:0", nullptr);
    REQUIRE(address);
    std::string error;
    for (bool v6only : {false, true}) {
        auto fd = listen_on(*address, ListenOptions{.v6only = v6only}, &error);
        if (!fd && error.find("Address family not supported") != std::string::npos) {
            MESSAGE("IPv6 is not available here: " << error);
            return;
        }
        REQUIRE_MESSAGE(fd, error);
        int value = -1;
        socklen_t len = sizeof value;
        REQUIRE(getsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &value, &len) == 0);
        CHECK(value == (v6only ? 1 : 0));
    }
}

TEST_CASE("listen: a datagram address gets a bound socket without listen") {
    auto address = parse_address("udp://127.0.0.1:0", nullptr);
    REQUIRE(address);
    std::string error;
    auto fd = listen_on(*address, {}, &error);
    REQUIRE_MESSAGE(fd, error);
    int type = 0;
    socklen_t len = sizeof type;
    REQUIRE(getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) == 0);
    CHECK(type == SOCK_DGRAM);
    CHECK(common::local_url(fd.get(), *address).rfind("udp://127.0.0.1:", 0) == 0);
}
