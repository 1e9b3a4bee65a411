// Strict parsing of the listen-address grammar shared by every stage:
//
//   scheme://host:port[?reuseport=true|false]   scheme: tcp tcp4 tcp6 udp udp4 udp6
//   unix://PATH
//
// libc is too forgiving to be used directly: getaddrinfo() wraps ports modulo
// 65536, inet_aton() reads "0127.0.0.1" as octal and "127.1" as 127.0.0.1, and
// atoi("80x") is 80. A server that silently binds somewhere the user did not
// ask for is worse than one that refuses to start, so we check every character.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace common {

enum class Scheme { tcp, tcp4, tcp6, udp, udp4, udp6, unix_path };

struct Address {
    Scheme scheme = Scheme::tcp;
    std::string host;  // numeric, as inet_pton understood it ("localhost" becomes 127.0.0.1)
    std::uint16_t port = 0;
    std::string path;  // unix sockets only
    bool reuseport = false;

    // The socket address ready for bind()/connect().
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    bool is_stream() const;  // tcp* and unix
    bool is_unix() const { return scheme == Scheme::unix_path; }
    // The canonical URL, e.g. "tcp://127.0.0.1:5000", "tcp6://[::1]:0", "unix:///tmp/e.sock".
    std::string url() const;
};

std::string_view scheme_name(Scheme s);

// Returns the address, or nothing with a one-line reason in *error.
std::optional<Address> parse_address(std::string_view text, std::string* error);

// The URL of a bound or connected socket address, written with the given scheme:
// used for the "listening on URL" line once the kernel has chosen a port.
std::string format_url(Scheme scheme, const sockaddr* sa, socklen_t len);

// The URL of the local address a socket is bound to (getsockname), same scheme as `requested`.
std::string local_url(int fd, const Address& requested);

}  // namespace common
