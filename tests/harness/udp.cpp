#include "harness/udp.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "harness/internal.hpp"
#include "harness/pattern.hpp"

namespace harness {

using namespace std::chrono_literals;

Udp::Udp(const common::Address& server) : server_(server) {
    fd_ = ::socket(server.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw Failure("socket(SOCK_DGRAM): " + internal::errno_name(errno));
    int big = 1 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
}

Udp::~Udp() {
    ::close(fd_);
}

void Udp::send(const std::string& payload) {
    ssize_t n = ::sendto(fd_, payload.data(), payload.size(), 0,
                         reinterpret_cast<const sockaddr*>(&server_.storage), server_.length);
    if (n != static_cast<ssize_t>(payload.size()))
        throw Failure("sendto " + server_.url() + ": " +
                      (n < 0 ? internal::errno_name(errno) : std::to_string(n) + " bytes sent"));
}

std::optional<std::string> Udp::receive(Deadline deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, deadline.poll_timeout_ms()) <= 0) return std::nullopt;
    std::string buf(70000, '\0');
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_TRUNC);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

void check_udp_echo(const common::Address& address, std::size_t size, std::uint64_t seed) {
    Udp udp(address);
    std::string payload = Pattern(seed).text(0, size);
    for (int attempt = 0; attempt < 3; ++attempt) {
        udp.send(payload);
        auto got = udp.receive(within(1s));
        if (!got) continue;
        if (got->size() != size)
            throw Failure("a " + std::to_string(size) + "-byte datagram came back as " +
                          std::to_string(got->size()));
        if (*got != payload) throw Failure("a " + std::to_string(size) + "-byte datagram came back altered");
        return;
    }
    throw Failure("no reply to a " + std::to_string(size) + "-byte datagram to " + address.url());
}

}  // namespace harness
