#include "common/listen.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace common {
namespace {

bool set_flag(int fd, int level, int name) {
    int one = 1;
    return setsockopt(fd, level, name, &one, sizeof one) == 0;
}

}  // namespace

// ANCHOR: listen-on
Fd listen_on(const Address& address, const ListenOptions& options, std::string* error) {
    // The call that failed is left out on purpose: "Address already in use" says it all
    // to a user, and the message stays the same on every platform.
    auto failed = [&](const char*) {
        if (error) *error = "cannot listen on " + address.url() + ": " + std::strerror(errno);
        return Fd();
    };
    int type = address.is_stream() ? SOCK_STREAM : SOCK_DGRAM;
#ifdef SOCK_CLOEXEC
    // Linux and the BSDs set both flags atomically with the socket: no window in which
    // a fork+exec elsewhere in the process could inherit it.
    type |= SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
    Fd fd(::socket(address.family(), type, 0));
    if (!fd) return failed("socket");
#else
    Fd fd(::socket(address.family(), type, 0));
    if (!fd) return failed("socket");
    if (fcntl(fd.get(), F_SETFD, FD_CLOEXEC) != 0) return failed("fcntl");
    if (options.nonblocking && fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) | O_NONBLOCK) != 0)
        return failed("fcntl");
#endif
    if (!address.is_unix()) {
        // Without SO_REUSEADDR a restart fails with EADDRINUSE while the previous
        // run's connections sit in TIME_WAIT (tcp(7)).
        if (!set_flag(fd.get(), SOL_SOCKET, SO_REUSEADDR)) return failed("setsockopt(SO_REUSEADDR)");
        if (address.reuseport && !set_flag(fd.get(), SOL_SOCKET, SO_REUSEPORT))
            return failed("setsockopt(SO_REUSEPORT)");
        if (address.family() == AF_INET6) {
            int v6only = options.v6only ? 1 : 0;
            if (setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
                return failed("setsockopt(IPV6_V6ONLY)");
        }
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0)
        return failed("bind");
    // SOMAXCONN is only a request: the kernel caps it at net.core.somaxconn.
    if (address.is_stream() && ::listen(fd.get(), SOMAXCONN) != 0) return failed("listen");
    return fd;
}
// ANCHOR_END: listen-on

}  // namespace common
