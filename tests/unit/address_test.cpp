// The address parser must refuse everything libc would silently reinterpret.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <string>

#include "common/address.hpp"

using common::parse_address;
using common::Scheme;

namespace {

struct Good {
    const char* text;
    Scheme scheme;
    const char* canonical;  // Address::url()
};

struct Bad {
    const char* text;
    const char* reason_contains;
};

}  // namespace

TEST_CASE("address: accepts every scheme of the grammar and writes it back canonically") {
    const Good table[] = {
        {"tcp://127.0.0.1:5000", Scheme::tcp, "tcp://127.0.0.1:5000"},
        {"tcp://localhost:80", Scheme::tcp, "tcp://127.0.0.1:80"},
        {"tcp://0.0.0.0:0", Scheme::tcp, "tcp://0.0.0.0:0"},
        {"tcp://[::1]:65535", Scheme::tcp, "tcp://[::1]:65535"},
        {"tcp4://10.0.0.1:1", Scheme::tcp4, "tcp4://10.0.0.1:1"},
        {"tcp6://[::]:0", Scheme::tcp6, "tcp6://[::]:0"},
        {"tcp6://[0:0:0:0:0:0:0:1]:9", Scheme::tcp6, "tcp6://[::1]:9"},
        {"udp://127.0.0.1:53", Scheme::udp, "udp://127.0.0.1:53"},
        {"udp4://127.0.0.1:0", Scheme::udp4, "udp4://127.0.0.1:0"},
        {"udp6://[::1]:5001", Scheme::udp6, "udp6://[::1]:5001"},
        {"tcp://127.0.0.1:0?reuseport=true", Scheme::tcp, "tcp://127.0.0.1:0?reuseport=true"},
        {"tcp://127.0.0.1:0?reuseport=false", Scheme::tcp, "tcp://127.0.0.1:0"},
        {"unix:///tmp/e.sock", Scheme::unix_path, "unix:///tmp/e.sock"},
        {"unix://relative.sock", Scheme::unix_path, "unix://relative.sock"},
    };
    for (const auto& row : table) {
        CAPTURE(row.text);
        std::string error;
        auto address = parse_address(row.text, &error);
        REQUIRE_MESSAGE(address.has_value(), error);
        CHECK(address->scheme == row.scheme);
        CHECK(address->url() == row.canonical);
        CHECK(address->length > 0);
    }
}

TEST_CASE("address: refuses what libc would silently reinterpret") {
    const Bad table[] = {
        // getaddrinfo() wraps ports modulo 65536: 65536 would bind a random port, 70000 port 4464.
        {"tcp://127.0.0.1:65536", "out of range"},
        {"tcp://127.0.0.1:70000", "out of range"},
        {"tcp://127.0.0.1:4294967297", "out of range"},
        // atoi("80x") is 80; strtol accepts signs and spaces.
        {"tcp://127.0.0.1:80x", "not a decimal"},
        {"tcp://127.0.0.1:-1", "not a decimal"},
        {"tcp://127.0.0.1:+80", "not a decimal"},
        {"tcp://127.0.0.1: 80", "not a decimal"},
        {"tcp://127.0.0.1:0x50", "not a decimal"},
        {"tcp://127.0.0.1:0080", "leading zero"},
        {"tcp://127.0.0.1:", "missing port"},
        {"tcp://127.0.0.1", "missing ':port'"},
        // inet_aton() reads a leading 0 as octal and fills in short forms.
        {"tcp://0127.0.0.1:80", "not a numeric IPv4"},
        {"tcp://127.1:80", "not a numeric IPv4"},
        {"tcp://2130706433:80", "not a numeric IPv4"},
        {"tcp://0x7f.0.0.1:80", "not a numeric IPv4"},
        {"tcp://256.0.0.1:80", "not a numeric IPv4"},
        {"tcp://example.com:80", "not a numeric IPv4"},
        {"tcp://:80", "empty host"},
        // IPv6 needs brackets, and a bracketed host must be IPv6.
        {"tcp://::1:80", "brackets"},
        {"tcp://[127.0.0.1]:80", "not a numeric IPv6"},
        {"tcp://[::1:80", "missing ']'"},
        {"tcp://[::1]80", "missing ':port'"},
        {"tcp://[]:80", "empty host"},
        {"tcp://[fe80::1%eth0]:80", "not a numeric IPv6"},
        // The scheme fixes the family.
        {"tcp4://[::1]:80", "IPv6 host needs"},
        {"tcp6://127.0.0.1:80", "IPv4 host needs"},
        {"udp6://localhost:80", "IPv4 host needs"},
        // Unknown or malformed schemes and options.
        {"http://127.0.0.1:80", "unknown scheme"},
        {"TCP://127.0.0.1:80", "unknown scheme"},
        {"127.0.0.1:80", "scheme://"},
        {"", "scheme://"},
        {"tcp://127.0.0.1:80?reuseport=yes", "unknown option"},
        {"tcp://127.0.0.1:80?", "unknown option"},
        {"tcp://127.0.0.1:80/", "not a decimal"},
        // Unix paths must fit sun_path with its NUL, and not be empty.
        {"unix://", "empty unix socket path"},
    };
    for (const auto& row : table) {
        CAPTURE(row.text);
        std::string error;
        auto address = parse_address(row.text, &error);
        CHECK_FALSE(address.has_value());
        CHECK_MESSAGE(error.find(row.reason_contains) != std::string::npos, error);
    }
}

TEST_CASE("address: refuses NUL CR and LF anywhere") {
    for (std::string text : {std::string("tcp://127.0.0.1:80\n"), std::string("tcp://127.0.0.1:80\r"),
                             std::string("unix:///tmp/a\nb"),
                             std::string("tcp://127.0.0.1:8\0"
                                         "0",
                                         19)}) {
        CAPTURE(text);
        std::string error;
        CHECK_FALSE(parse_address(text, &error).has_value());
        CHECK(error.find("NUL, CR or LF") != std::string::npos);
    }
}

TEST_CASE("address: a unix path of 107 bytes fits and one of 108 does not") {
    constexpr std::size_t fits = sizeof(sockaddr_un{}.sun_path) - 1;
    std::string longest = "/" + std::string(fits - 1, 'a');
    REQUIRE(longest.size() == fits);
    std::string error;
    auto address = parse_address("unix://" + longest, &error);
    REQUIRE_MESSAGE(address.has_value(), error);
    CHECK(address->path == longest);
    CHECK_FALSE(parse_address("unix://" + longest + "b", &error).has_value());
    CHECK(error.find("at most " + std::to_string(fits)) != std::string::npos);
}

TEST_CASE("address: the socket address carries the parsed host and port") {
    auto address = parse_address("tcp://127.0.0.1:5000", nullptr);
    REQUIRE(address.has_value());
    REQUIRE(address->family() == AF_INET);
    auto* sin = reinterpret_cast<const sockaddr_in*>(&address->storage);
    CHECK(ntohs(sin->sin_port) == 5000);
    CHECK(ntohl(sin->sin_addr.s_addr) == 0x7f000001u);

    auto v6 = parse_address("tcp6://[::1]:443", nullptr);
    REQUIRE(v6.has_value());
    REQUIRE(v6->family() == AF_INET6);
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&v6->storage);
    CHECK(ntohs(sin6->sin6_port) == 443);
    CHECK(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}
