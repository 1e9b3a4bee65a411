// The multiaddr tier: one server on many addresses at once (tcp4, tcp6, unix, udp), dual
// stack on one port, UDP datagram boundaries, the unix socket file rules, and several
// loops with each balance mode. Stage 04 is the first stage built for these; the cases
// that need stage 04's own flags (--loops, --balance, --trace) say so in their names.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using harness::Conn;
using harness::Deadline;
using harness::Pattern;
using harness::scaled;
using harness::within;

namespace {

// A unix socket path of its own for each use, under /tmp.
std::string unix_path(const std::string& tag) {
    return "/tmp/evloop-ma-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// A UDP client socket for one address family; closed on destruction.
class Udp {
public:
    explicit Udp(const common::Address& server) : server_(server) {
        fd_ = ::socket(server.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        int big = 1 << 20;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    }
    ~Udp() { ::close(fd_); }
    Udp(const Udp&) = delete;
    Udp& operator=(const Udp&) = delete;

    void send(const std::string& payload) {
        long n = ::sendto(fd_, payload.data(), payload.size(), 0,
                          reinterpret_cast<const sockaddr*>(&server_.storage), server_.length);
        REQUIRE_MESSAGE(n == static_cast<long>(payload.size()), "sendto: " << std::strerror(errno));
    }
    // One datagram, with MSG_TRUNC so a datagram longer than expected is caught.
    std::optional<std::string> receive(Deadline deadline) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, deadline.poll_timeout_ms()) <= 0) return std::nullopt;
        std::string buf(70000, '\0');
        long n = ::recv(fd_, buf.data(), buf.size(), MSG_TRUNC);
        if (n < 0) return std::nullopt;
        buf.resize(static_cast<std::size_t>(n));
        return buf;
    }

private:
    common::Address server_;
    int fd_ = -1;
};

std::string pattern_string(std::uint64_t seed, std::size_t n) {
    auto bytes = Pattern(seed).bytes(0, n);
    return std::string(bytes.begin(), bytes.end());
}

void check_udp_echo(const common::Address& address, std::size_t size, std::uint64_t seed) {
    Udp udp(address);
    std::string payload = pattern_string(seed, size);
    // UDP may lose a datagram even on loopback; three tries, each its own bound.
    for (int attempt = 0; attempt < 3; ++attempt) {
        udp.send(payload);
        auto got = udp.receive(within(1s));
        if (!got) continue;
        REQUIRE_MESSAGE(got->size() == size, "a " << size << "-byte datagram came back as " << got->size());
        REQUIRE_MESSAGE(*got == payload, "a " << size << "-byte datagram came back altered");
        return;
    }
    FAIL("no reply to a " << size << "-byte datagram to " << address.url());
}

void check_stream_echo(const common::Address& address, std::uint64_t seed) {
    Conn conn = Conn::connect(address, {}, within(2s));
    harness::round_trip(conn, Pattern(seed), 0, 4096, within(2s));
}

harness::ServerOptions options_with(const harness::Case& c, std::vector<std::string> listen) {
    auto o = c.server_options();
    o.listen = std::move(listen);
    return o;
}

// A port that is free for TCP on both :: and 0.0.0.0 right now.
std::uint16_t free_dual_stack_port() {
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int off = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);  // claims the v4 port too
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) == 0);
    socklen_t len = sizeof sin6;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin6), &len);
    ::close(fd);
    return ntohs(sin6.sin6_port);
}

}  // namespace

TEST_SUITE("multiaddr") {
    TEST_CASE("tcp4 tcp6 unix and udp listeners on one server each echo their own traffic") {
        harness::Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string path = unix_path("mix");
        auto server =
            c.start_server(options_with(c, {"tcp4://127.0.0.1:0", "tcp6://[::1]:0", "unix://" + path,
                                            "udp4://127.0.0.1:0", "udp6://[::1]:0"}));
        const auto& a = server->addresses();
        REQUIRE(a.size() == 5);
        check_stream_echo(a[0], 1);
        check_stream_echo(a[1], 2);
        check_stream_echo(a[2], 3);
        check_udp_echo(a[3], 512, 4);
        check_udp_echo(a[4], 512, 5);
        auto status = server->stop(scaled(2s));
        CHECK_MESSAGE(status.clean(), status.describe());
        CHECK_MESSAGE(!exists(path), "the unix socket file " << path << " was left behind");
    }

    TEST_CASE("dual stack listeners on :: and 0.0.0.0 with one port both bind and both echo") {
        harness::Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        auto port = std::to_string(free_dual_stack_port());
        auto server = c.start_server(options_with(c, {"tcp6://[::]:" + port, "tcp4://0.0.0.0:" + port}));
        REQUIRE(server->addresses().size() == 2);
        std::string why;
        check_stream_echo(*common::parse_address("tcp6://[::1]:" + port, &why), 11);
        check_stream_echo(*common::parse_address("tcp4://127.0.0.1:" + port, &why), 12);
    }

    TEST_CASE("UDP datagrams of 0 1 1472 9216 and 65507 bytes on IPv4 and 65527 on IPv6 come back whole") {
        harness::Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        auto server = c.start_server(options_with(c, {"udp4://127.0.0.1:0", "udp6://[::1]:0"}));
        REQUIRE(server->addresses().size() == 2);
        std::uint64_t seed = 20;
        for (std::size_t size : {0, 1, 1472, 9216, 65507}) {
            CAPTURE(size);
            check_udp_echo(server->addresses()[0], size, ++seed);
        }
        check_udp_echo(server->addresses()[1], 65527, ++seed);
    }

    TEST_CASE("100 UDP clients that vanish before the reply leave the server serving a fresh one") {
        harness::Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        auto server = c.start_server(options_with(c, {"udp://127.0.0.1:0"}));
        for (int i = 0; i < 100; ++i) {
            Udp gone(server->addresses()[0]);
            gone.send(pattern_string(static_cast<std::uint64_t>(100 + i), 256));
        }  // each socket closes before its reply: the replies bounce with ICMP port unreachable
        check_udp_echo(server->addresses()[0], 256, 300);
        CHECK(server->alive());
    }

    TEST_CASE("with --loops 4 each --balance mode gives every loop at least 10 percent of 1000 connections" *
              doctest::description("serial")) {
        harness::Case c({.limit = 60s, .needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        for (std::string mode : {"round-robin", "random", "least-connections"}) {
            CAPTURE(mode);
            auto options = c.server_options();
            options.args.insert(options.args.end(), {"--loops", "4", "--balance", mode, "--trace"});
            auto server = c.start_server(options);
            harness::Swarm swarm(server->address());
            for (int i = 0; i < 1000; ++i)
                swarm.add({.steps = {harness::Step::round_trip(16), harness::Step::wait(500ms)}});
            auto result = swarm.run({.connects_per_second = 4000, .deadline = within(15s)});
            REQUIRE_MESSAGE(result.ok(), result.describe());
            // --trace names the loop that opens each connection: "loop N: fd F opened".
            std::map<int, int> per_loop;
            std::string text = server->stderr_text();
            std::regex opened("loop ([0-9]+): fd [0-9]+ opened");
            for (auto it = std::sregex_iterator(text.begin(), text.end(), opened);
                 it != std::sregex_iterator(); ++it)
                ++per_loop[std::stoi((*it)[1])];
            REQUIRE_MESSAGE(per_loop.size() == 4,
                            "connections were opened on " << per_loop.size() << " loops");
            for (const auto& entry : per_loop) {
                INFO("loop " << entry.first << " opened " << entry.second << " of 1000");
                CHECK(entry.second >= 100);
            }
            double share = server->cpu_fraction_over(1s);
            CHECK_MESSAGE(share < 0.02, "idle afterwards, the server used " << share * 100 << "% of a CPU");
        }
    }
}
