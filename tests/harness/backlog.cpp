// Echo the server holds: the kernel's queues at both ends of a connection, read with ioctl(2)
// and sock_diag(7).
#include "harness/backlog.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "harness/internal.hpp"

namespace harness {
namespace {

std::uint64_t queue_ioctl(int fd, unsigned long request) {
    int value = 0;
    if (::ioctl(fd, request, &value) != 0 || value < 0) return 0;
    return static_cast<std::uint64_t>(value);
}

// One sock_diag request for the socket with exactly this local and remote address: the
// kernel looks it up in its connection table, so the cost does not grow with the number of
// sockets on the machine (as reading /proc/net/tcp does).
std::optional<FarEnd> diag_lookup(int family, const void* local_addr, std::uint16_t local_port,
                                  const void* remote_addr, std::uint16_t remote_port) {
    int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return std::nullopt;
    timeval patience{1, 0};  // the kernel answers at once; this only bounds a surprise
    ::setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;  // no NLM_F_DUMP: one socket, by its id
    message.request.sdiag_family = static_cast<std::uint8_t>(family);
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0u;
    message.request.idiag_ext = 1 << (INET_DIAG_INFO - 1);  // and its struct tcp_info
    inet_diag_sockid& id = message.request.id;
    id.idiag_sport = local_port;  // network byte order, like the addresses
    id.idiag_dport = remote_port;
    std::size_t length = family == AF_INET ? 4 : 16;
    std::memcpy(id.idiag_src, local_addr, length);
    std::memcpy(id.idiag_dst, remote_addr, length);
    id.idiag_cookie[0] = id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    std::optional<FarEnd> found;
    if (::sendto(nl, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) ==
        static_cast<ssize_t>(sizeof message)) {
        alignas(nlmsghdr) char reply[8192];
        ssize_t n;
        do
            n = ::recv(nl, reply, sizeof reply, 0);
        while (n < 0 && errno == EINTR);
        auto* h = reinterpret_cast<nlmsghdr*>(reply);
        // NLMSG_ERROR (ENOENT) when there is no such socket.
        if (n > 0 && NLMSG_OK(h, static_cast<unsigned>(n)) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
            found = FarEnd{m->idiag_state, m->idiag_rqueue, m->idiag_wqueue, 0};
            int left = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
            for (auto* a = reinterpret_cast<rtattr*>(m + 1); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
                if (a->rta_type != INET_DIAG_INFO) continue;
                tcp_info info{};  // older kernels send a shorter one
                std::memcpy(&info, RTA_DATA(a), std::min<std::size_t>(RTA_PAYLOAD(a), sizeof info));
                found->in_flight = info.tcpi_unacked;
            }
        }
    }
    ::close(nl);
    return found;
}

// One look at every queue, in the order the bytes flow through them: a byte that moves
// while we look is counted twice rather than not at all, so `held` errs low.
Backlog look(const Conn& conn, std::uint64_t sent, Server* server) {
    Backlog b;
    b.sent = sent;
    bool asleep_before = server ? server->asleep() : true;
    b.our_unacked = conn.unacked_bytes();
    auto far = conn.far_end();
    b.our_unread = conn.unread_bytes();
    b.asleep = asleep_before && (server ? server->asleep() : true);
    if (far) {
        b.observed = true;
        b.far = *far;
        std::uint64_t accounted = b.our_unacked + far->unread + far->unacked + b.our_unread;
        b.held = sent > accounted ? sent - accounted : 0;
    }
    return b;
}

bool same(const Backlog& a, const Backlog& b) {
    return a.observed == b.observed && a.our_unacked == b.our_unacked && a.our_unread == b.our_unread &&
           a.far == b.far;
}

}  // namespace

std::uint64_t Conn::unread_bytes() const {
    return queue_ioctl(fd_, SIOCINQ);
}

std::uint64_t Conn::unacked_bytes() const {
    return queue_ioctl(fd_, SIOCOUTQ);
}

std::optional<FarEnd> Conn::far_end() const {
    sockaddr_storage mine{}, theirs{};
    socklen_t mine_len = sizeof mine, theirs_len = sizeof theirs;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&mine), &mine_len) != 0 ||
        ::getpeername(fd_, reinterpret_cast<sockaddr*>(&theirs), &theirs_len) != 0)
        return std::nullopt;
    // The server's socket has the two ends the other way round.
    if (mine.ss_family == AF_INET6) {
        auto& m = reinterpret_cast<const sockaddr_in6&>(mine);
        auto& t = reinterpret_cast<const sockaddr_in6&>(theirs);
        return diag_lookup(AF_INET6, &t.sin6_addr, t.sin6_port, &m.sin6_addr, m.sin6_port);
    }
    if (mine.ss_family != AF_INET) return std::nullopt;
    auto& m = reinterpret_cast<const sockaddr_in&>(mine);
    auto& t = reinterpret_cast<const sockaddr_in&>(theirs);
    if (auto found = diag_lookup(AF_INET, &t.sin_addr, t.sin_port, &m.sin_addr, m.sin_port)) return found;
    // A dual-stack IPv6 listener serves IPv4 clients on IPv6 sockets with v4-mapped
    // addresses (ipv6(7)).
    auto mapped = [](in_addr a) {
        in6_addr v6{};
        v6.s6_addr[10] = v6.s6_addr[11] = 0xff;
        std::memcpy(&v6.s6_addr[12], &a, 4);
        return v6;
    };
    in6_addr t6 = mapped(t.sin_addr), m6 = mapped(m.sin_addr);
    return diag_lookup(AF_INET6, &t6, t.sin_port, &m6, m.sin_port);
}

std::string Backlog::describe() const {
    std::string s = "sent " + std::to_string(sent);
    if (!observed) return s + " (the server's end of the connection is not visible from here)";
    s += ": " + std::to_string(our_unacked) + " unacknowledged, " + std::to_string(far.unread) +
         " unread by the server, " + std::to_string(held) + " held by the server, " +
         std::to_string(far.unacked) + " in its send queue (" + std::to_string(far.in_flight) +
         " segments in flight), " + std::to_string(our_unread) + " unread by us; server socket state " +
         std::to_string(far.state) + (asleep ? ", server asleep" : ", server running");
    return s;
}

Backlog settle(Conn& conn, std::uint64_t sent, Server* server, Deadline deadline, Duration quiet) {
    // Without the process to watch, only time says nothing moves.
    if (!server) quiet = std::max(quiet, Duration(milliseconds(20)));
    const Duration gap = std::min(quiet, Duration(milliseconds(2)));
    Backlog first = look(conn, sent, server);
    auto since = Clock::now();
    for (;;) {
        sleep_for(gap);
        Backlog now = look(conn, sent, server);
        bool still = now.asleep && first.asleep && same(now, first) && now.far.in_flight == 0;
        if (still && Clock::now() - since >= quiet) {
            now.settled = true;
            return now;
        }
        if ((server && !server->alive()) || deadline.expired()) return now;
        if (!still) {
            first = now;
            since = Clock::now();
        }
    }
}

Backlog fill_until_held(Conn& conn, const Pattern& pattern, Server* server, Deadline deadline) {
    constexpr std::size_t kChunk = 32 * 1024;  // small steps: we stop soon after the point
    constexpr std::uint64_t kGiveUp = 256u << 20;
    std::vector<std::uint8_t> chunk(kChunk);
    std::uint64_t sent = 0;
    auto send_next = [&] {
        pattern.fill(sent, chunk);
        std::size_t n = conn.send_now(chunk);
        sent += n;
        return n;
    };
    auto check_alive = [&] {
        if (server && !server->alive())
            throw Failure("the server exited (" + server->exit_status()->describe() + ") after " +
                          std::to_string(sent) + " bytes were sent to it and none read back");
    };

    if (!conn.far_end()) {
        const Duration quiet = scaled(milliseconds(200));
        auto last_progress = Clock::now();
        for (;;) {
            check_alive();
            if (send_next() > 0) {
                last_progress = Clock::now();
            } else if (Clock::now() - last_progress >= quiet) {
                return look(conn, sent, server);
            } else {
                Deadline until = Deadline::at(std::min(deadline.when(), last_progress + quiet));
                internal::wait_fd(conn.fd(), POLLOUT, until);
            }
            if (deadline.expired())
                throw Failure("the server still took more after " + std::to_string(sent) +
                              " bytes sent and none read back");
        }
    }

    for (;;) {
        check_alive();
        Backlog b = look(conn, sent, server);
        if (b.held > 0 && b.asleep) {
            // A server asleep with echo in hand is blocked, not between a read and a write;
            // make sure of it before stopping.
            b = settle(conn, sent, server, Deadline::after(scaled(milliseconds(500))));
            if (b.settled && b.held > 0) return b;
        }
        if (deadline.expired())
            throw Failure("the server never held back echo before the deadline: " + b.describe());
        if (sent >= kGiveUp)
            throw Failure("the server took " + std::to_string(sent) +
                          " bytes without holding back any echo while none was read: " + b.describe());
        // The next chunk only once the server has read and answered the last one: so when it
        // starts holding echo back little else is on its way, and what is can be seen at once.
        bool caught_up = b.held == 0 && b.far.unread == 0 && b.our_unacked < kChunk;
        if (!caught_up || send_next() == 0) sleep_for(std::chrono::microseconds(200));
    }
}

Backlog half_close_and_settle(Conn& conn, std::uint64_t sent, Server* server, Deadline deadline) {
    conn.shutdown_write();
    for (;;) {
        Backlog b = settle(conn, sent, server, deadline);
        if (!b.settled || !b.observed) return b;
        // Quiet but still ESTABLISHED with nothing unread there: the FIN is still on its way.
        if (b.far.state != TCP_ESTABLISHED || b.far.unread > 0) return b;
    }
}

}  // namespace harness
