// UDP: one datagram in, one data event, at most one datagram out, to its sender.
// recvmsg(2) rather than recvfrom(2) because only msg_flags can say MSG_TRUNC: a
// datagram larger than the buffer is cut silently otherwise, and echoing a cut
// datagram would be a lie, so it is dropped. The 64 KiB buffer holds the largest
// datagram IPv4 (65,507 bytes) or IPv6 (65,527) can carry without jumbograms.
// Errors from recvmsg are not the server's: on Linux an ICMP "port unreachable" for an
// earlier reply can surface as ECONNREFUSED (udp(7)); they are skipped. A reply the
// kernel refuses (too large for a datagram, or the socket buffer full) is lost, as UDP
// allows, but never silently: a rate-limited warning says so.
#include "udp.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "guard.hpp"

namespace evloop::detail {
namespace {
constexpr int kDatagramsPerWakeup = 64;
}

SocketAddress Datagram::local() const {
    return loop_.shared().bound[static_cast<std::size_t>(addr_index_)];
}

SocketAddress Datagram::remote() const {
    return make_address(loop_.shared().addresses[static_cast<std::size_t>(addr_index_)].scheme, peer_,
                        peer_len_);
}

UdpEndpoint::UdpEndpoint(Loop& loop, ListenSocket socket, int addr_index)
    : loop_(loop), socket_(std::move(socket)), datagram_(loop, socket_.fd(), addr_index) {}

UdpEndpoint::~UdpEndpoint() {
    loop_.unwatch(socket_.fd());
}

int UdpEndpoint::start() {
    return loop_.watch(socket_.fd(), kReadable, this);
}

// ANCHOR: udp
void UdpEndpoint::on_event(const PollEvent&) {
    const Events& ev = loop_.shared().events;
    for (int i = 0; i < kDatagramsPerWakeup; ++i) {
        Datagram& d = datagram_;
        iovec iov{loop_.read_buffer(), loop_.read_buffer_size()};
        msghdr msg{};
        msg.msg_name = &d.peer_;
        msg.msg_namelen = sizeof d.peer_;
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
        d.peer_len_ = msg.msg_namelen;
        d.reply_.clear();
        d.wrote_ = false;
        d.context_.reset();
        std::string_view in(loop_.read_buffer(), static_cast<std::size_t>(n));
        Action action = ev.data ? guarded(loop_.shared(), nullptr, ev.data, Conn(&d), in) : Action::none;
        if (d.wrote_) reply();
        if (action == Action::shutdown) loop_.shared().request_stop();
        loop_.run_deferred();
    }
}
// ANCHOR_END: udp

void UdpEndpoint::reply() {
    Datagram& d = datagram_;
    long sent;
    do {
        sent = ::sendto(socket_.fd(), d.reply_.data(), d.reply_.size(), 0,
                        reinterpret_cast<const sockaddr*>(&d.peer_), d.peer_len_);
    } while (sent < 0 && errno == EINTR);
    loop_.trace("loop %d: udp fd %d sendto %zu -> %ld", loop_.index(), socket_.fd(), d.reply_.size(), sent);
    if (sent < 0)
        warn_limited("udp-reply", "evloop: a UDP reply of " + std::to_string(d.reply_.size()) +
                                      " bytes was dropped: " + std::strerror(errno));
}

}  // namespace evloop::detail
