// Listening sockets for every scheme, and the socket-address helpers around them.
// Parsing is common's strict parser, compiled into this library (see CMakeLists.txt).
#pragma once

#include <netinet/in.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "evloop/evloop.hpp"

namespace evloop::detail {

// A bound socket that closes itself and, for a unix socket, removes its file, but only
// while the file is still the one this socket created.
class ListenSocket {
public:
    ListenSocket() = default;
    ListenSocket(ListenSocket&& other) noexcept;
    ListenSocket& operator=(ListenSocket&& other) noexcept;
    ~ListenSocket() { reset(); }
    void reset();
    int fd() const { return fd_; }

    int fd_ = -1;
    std::string unix_path;  // non-empty when this socket owns a file
    dev_t dev = 0;
    ino_t ino = 0;
};

// Parses every URL; all or nothing.
Error parse_all(const std::vector<std::string>& urls, std::vector<common::Address>* out);

// Whether address i must be IPV6_V6ONLY: a v4 listener of the same kind shares its port.
bool needs_v6only(const std::vector<common::Address>& all, std::size_t i);

// socket, options, bind, listen; non-blocking and close-on-exec. `port_override`
// replaces the port (for the second and later per-loop SO_REUSEPORT sockets).
// Unix paths follow the stale-file rules described in address.cpp.
ListenSocket open_listener(const common::Address& address, bool v6only, int port_override, Error* error);

// The real URL a listener is bound to (the kernel's port for port 0).
std::string bound_url(const ListenSocket& socket, const common::Address& requested);

// The port a socket is bound to, or 0 (unix sockets, errors).
int bound_port(int fd);

SocketAddress make_address(common::Scheme scheme, const sockaddr_storage& ss, socklen_t len);
SocketAddress local_address(int fd, common::Scheme scheme);

// A connection's address, kept small: an IPv4 or IPv6 address fits in 28 bytes, where a
// sockaddr_storage takes 128 and a URL string more. A longer one (a unix path) goes on
// the heap, which the usual unnamed unix peer never needs. The URL is made on demand.
class CompactAddress {
public:
    void set(const sockaddr_storage& ss, socklen_t len);
    bool empty() const { return length_ == 0; }
    int family() const { return other_ ? other_->ss_family : ip_.family; }
    SocketAddress get(common::Scheme scheme) const;

private:
    union Ip {
        sa_family_t family;
        sockaddr_in v4;
        sockaddr_in6 v6;
    } ip_{};
    socklen_t length_ = 0;
    std::unique_ptr<sockaddr_storage> other_;
};

// Whether a listener's host is 0.0.0.0 or :: (any local address).
bool is_wildcard(const common::Address& address);

// socket(2), non-blocking and close-on-exec; -1 with errno set.
int make_socket(int family, int type);

// Sets O_NONBLOCK on or off; returns 0 or errno.
int set_nonblocking(int fd, bool on);

}  // namespace evloop::detail
