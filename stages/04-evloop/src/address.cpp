// Listening sockets. The unix-socket rules exist because bind(2) fails with EADDRINUSE
// whenever the path exists, even when it is only the leftover of a server that died
// without removing it. Deleting whatever is there (as evio does) would silently take
// a live server's address or destroy an unrelated file, so an existing path is
// replaced only when it is provably stale:
//   lstat says it is a socket, AND connecting to it fails with ECONNREFUSED
//   (nobody is listening: unix(7)).
// A regular file, a live server's socket, or any other doubt refuses with the file
// untouched. The file is removed on stop only if it is still ours (same inode).
#include "address.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace evloop::detail {
namespace {

Error fail(const common::Address& a, int code, const std::string& why = "") {
    return Error{code, "cannot listen on " + a.url() + ": " + (why.empty() ? std::strerror(code) : why)};
}

bool set_flag(int fd, int level, int name, int value = 1) {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

// 0 when the path is free (or was a stale socket, now removed), else an errno value
// with a reason in *why.
int clear_stale_unix_path(const common::Address& a, std::string* why) {
    struct stat st {};
    if (::lstat(a.path.c_str(), &st) != 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISSOCK(st.st_mode)) {
        *why = "the path exists and is not a socket";
        return EADDRINUSE;
    }
    int probe = make_socket(AF_UNIX, SOCK_STREAM);
    if (probe < 0) return errno;
    // A non-blocking connect to a listening unix socket succeeds or says EAGAIN (backlog
    // full); either way someone is there.
    int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&a.storage), a.length);
    int err = rc == 0 ? 0 : errno;
    ::close(probe);
    if (err != ECONNREFUSED) {
        *why = "another server is listening there";
        return EADDRINUSE;
    }
    return ::unlink(a.path.c_str()) == 0 || errno == ENOENT ? 0 : errno;
}

}  // namespace

ListenSocket::ListenSocket(ListenSocket&& other) noexcept {
    *this = std::move(other);
}

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
    if (this != &other) {
        reset();
        fd_ = std::exchange(other.fd_, -1);
        unix_path = std::move(other.unix_path);
        other.unix_path.clear();
        dev = other.dev;
        ino = other.ino;
    }
    return *this;
}

void ListenSocket::reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!unix_path.empty()) {
        struct stat st {};
        if (::lstat(unix_path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino)
            ::unlink(unix_path.c_str());
        unix_path.clear();
    }
}

Error parse_all(const std::vector<std::string>& urls, std::vector<common::Address>* out) {
    out->clear();
    if (urls.empty()) return Error{EINVAL, "no address to serve"};
    for (const auto& url : urls) {
        std::string why;
        auto a = common::parse_address(url, &why);
        if (!a) return Error{EINVAL, std::string("bad address '").append(url).append("': ").append(why)};
        out->push_back(*a);
    }
    return {};
}

bool needs_v6only(const std::vector<common::Address>& all, std::size_t i) {
    const auto& a = all[i];
    if (a.is_unix() || a.family() != AF_INET6 || a.port == 0) return false;
    for (const auto& b : all)
        if (b.family() == AF_INET && b.port == a.port && b.is_stream() == a.is_stream()) return true;
    return false;
}

ListenSocket open_listener(const common::Address& a, bool v6only, int port_override, Error* error) {
    ListenSocket out;
    common::Address addr = a;
    if (port_override > 0) {
        auto port = htons(static_cast<std::uint16_t>(port_override));
        if (addr.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&addr.storage)->sin_port = port;
        if (addr.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&addr.storage)->sin6_port = port;
    }
    std::string why;
    if (addr.is_unix()) {
        if (int err = clear_stale_unix_path(addr, &why)) {
            *error = fail(a, err, why);
            return out;
        }
    }
    out.fd_ = make_socket(addr.family(), addr.is_stream() ? SOCK_STREAM : SOCK_DGRAM);
    if (out.fd_ < 0) {
        *error = fail(a, errno);
        return out;
    }
    int fd = out.fd_;
    // SO_REUSEADDR lets a restarted TCP server bind while old connections sit in
    // TIME_WAIT (tcp(7)); on UDP it would let two servers share a port, so not there.
    bool ok = true;
    if (!addr.is_unix() && addr.is_stream()) ok = set_flag(fd, SOL_SOCKET, SO_REUSEADDR);
    if (ok && addr.reuseport && !addr.is_unix()) ok = set_flag(fd, SOL_SOCKET, SO_REUSEPORT);
    if (ok && addr.family() == AF_INET6) ok = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? 1 : 0);
    if (ok) ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) == 0;
    if (ok && addr.is_stream()) ok = ::listen(fd, SOMAXCONN) == 0;
    if (!ok) {
        *error = fail(a, errno);
        ::close(std::exchange(out.fd_, -1));
        return out;
    }
    if (addr.is_unix()) {
        struct stat st {};
        if (::lstat(addr.path.c_str(), &st) == 0) {
            out.unix_path = addr.path;
            out.dev = st.st_dev;
            out.ino = st.st_ino;
        }
    }
    return out;
}

std::string bound_url(const ListenSocket& socket, const common::Address& requested) {
    return common::local_url(socket.fd(), requested);
}

int bound_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

int make_socket(int family, int type) {
#if defined(SOCK_NONBLOCK)
    return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
    int fd = ::socket(family, type, 0);
    if (fd >= 0 && (set_nonblocking(fd, true) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)) {
        int saved = errno;
        ::close(fd);
        errno = saved;
        return -1;
    }
#if defined(SO_NOSIGPIPE)
    int one = 1;
    if (fd >= 0 && type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return fd;
#endif
}

bool is_wildcard(const common::Address& a) {
    if (a.family() == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (a.family() == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr);
    return false;
}

void CompactAddress::set(const sockaddr_storage& ss, socklen_t len) {
    other_.reset();
    length_ = len;
    if (len <= sizeof ip_) {
        std::memcpy(&ip_, &ss, len);
    } else {
        other_ = std::make_unique<sockaddr_storage>(ss);
    }
}

SocketAddress CompactAddress::get(common::Scheme scheme) const {
    if (length_ == 0) return {};
    sockaddr_storage ss{};
    if (other_)
        ss = *other_;
    else
        std::memcpy(&ss, &ip_, length_);
    return make_address(scheme, ss, length_);
}

SocketAddress make_address(common::Scheme scheme, const sockaddr_storage& ss, socklen_t len) {
    SocketAddress out;
    out.storage = ss;
    out.length = len;
    out.url = common::format_url(scheme, reinterpret_cast<const sockaddr*>(&ss), len);
    return out;
}

SocketAddress local_address(int fd, common::Scheme scheme) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return make_address(scheme, ss, len);
}

int set_nonblocking(int fd, bool on) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return errno;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return ::fcntl(fd, F_SETFL, flags) == 0 ? 0 : errno;
}

}  // namespace evloop::detail
