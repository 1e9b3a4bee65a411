#include "harness/addresses.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "harness/internal.hpp"

namespace harness {

std::string unix_socket_path(const std::string& tag) {
    return "/tmp/evloop-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

std::string unix_socket_path_of_length(std::size_t length, char fill) {
    std::string base = "/tmp/evloop-" + std::to_string(::getpid()) + "-";
    if (length < base.size()) throw Failure("no unix socket path of " + std::to_string(length) + " bytes");
    return base + std::string(length - base.size(), fill);
}

bool path_exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::uint16_t free_dual_stack_port() {
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Failure("socket(AF_INET6): " + internal::errno_name(errno));
    int off = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);  // claims the v4 port too
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    socklen_t len = sizeof sin6;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) == 0 &&
              ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin6), &len) == 0;
    int err = errno;
    ::close(fd);
    if (!ok) throw Failure("bind([::]:0): " + internal::errno_name(err));
    return ntohs(sin6.sin6_port);
}

}  // namespace harness
