// UDP: one datagram in, one data event, at most one datagram out, to its sender.
// recvmsg(2) rather than recvfrom(2) because only msg_flags can say MSG_TRUNC: a
// datagram larger than the buffer is cut silently otherwise, and echoing a cut
// datagram would be a lie, so it is dropped. The 64 KiB buffer holds the largest
// datagram IPv4 (65,507 bytes) or IPv6 (65,527) can carry without jumbograms.
// Errors from recvmsg are not the server's: on Linux an ICMP "port unreachable" for an
// earlier reply can surface as ECONNREFUSED (udp(7)); they are skipped.
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "listener.hpp"

namespace evloop::detail {
namespace {
constexpr int kDatagramsPerWakeup = 64;
}

UdpEndpoint::UdpEndpoint(Loop& loop, ListenSocket socket, int addr_index)
    : loop_(loop),
      socket_(std::move(socket)),
      addr_index_(addr_index),
      conn_(loop, socket_.fd(), addr_index, 0, SocketAddress{}, true) {}

UdpEndpoint::~UdpEndpoint() {
    loop_.unwatch(socket_.fd());
}

int UdpEndpoint::start() {
    return loop_.watch(socket_.fd(), kReadable, this);
}

// ANCHOR: udp
void UdpEndpoint::on_event(const PollEvent&) {
    const Events& ev = loop_.shared().events;
    auto scheme = loop_.shared().addresses[static_cast<std::size_t>(addr_index_)].scheme;
    for (int i = 0; i < kDatagramsPerWakeup; ++i) {
        sockaddr_storage peer{};
        iovec iov{loop_.read_buffer(), loop_.read_buffer_size()};
        msghdr msg{};
        msg.msg_name = &peer;
        msg.msg_namelen = sizeof peer;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        long n = ::recvmsg(socket_.fd(), &msg, 0);
        loop_.trace("loop %d: udp fd %d recvmsg -> %ld", loop_.index(), socket_.fd(), n);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            continue;  // EINTR, ECONNREFUSED and friends: try the next datagram
        }
        if (msg.msg_flags & MSG_TRUNC) {
            warn_limited("udp-trunc", "evloop: dropped a datagram larger than 64 KiB");
            continue;
        }
        conn_.udp_reset();
        conn_.set_remote(make_address(scheme, peer, msg.msg_namelen));
        Action action = ev.data ? ev.data(Conn(&conn_),
                                          std::string_view(loop_.read_buffer(), static_cast<std::size_t>(n)))
                                : Action::none;
        std::string_view reply;
        if (conn_.udp_reply(&reply)) {
            long sent = ::sendto(socket_.fd(), reply.data(), reply.size(), 0,
                                 reinterpret_cast<const sockaddr*>(&peer), msg.msg_namelen);
            // A full socket buffer or a vanished peer loses this reply only: UDP promises no more.
            loop_.trace("loop %d: udp fd %d sendto %zu -> %ld", loop_.index(), socket_.fd(), reply.size(),
                        sent);
        }
        conn_.udp_reset();
        if (action == Action::shutdown) loop_.shared().request_stop();
    }
}
// ANCHOR_END: udp

}  // namespace evloop::detail
