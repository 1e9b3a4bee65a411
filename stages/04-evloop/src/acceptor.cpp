// Accepting connections, and surviving what accept(2) can say. Only EAGAIN means
// "nothing more for now"; every other error is either one client's (ECONNABORTED: it
// reset before we got to it) or the process's (EMFILE: out of descriptors), and
// neither may stop the server. Out of descriptors is the subtle one: the connection
// stays in the backlog, the listener stays readable, and a level-triggered loop spins.
// Two answers, in order:
//  1. Pause the listener briefly and retry: descriptors come back as connections close,
//     and a client queued in the backlog is then served as if nothing had happened.
//  2. If no accept has succeeded for kShedAfter, nobody is closing: shed the backlog
//     with the spare-descriptor trick (libev's and libuv's documentation): close a
//     descriptor kept in reserve, accept and close pending clients so they get a prompt
//     end instead of a hang, reopen the reserve.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "acceptor.hpp"
#include "connection.hpp"

namespace evloop::detail {
namespace {

constexpr int kAcceptsPerWakeup = 64;  // then let the loop serve its connections
constexpr auto kPause = std::chrono::milliseconds(100);
constexpr auto kShedAfter = std::chrono::seconds(3);

struct OwnedFd {  // closes an accepted fd whose hand-off never ran
    explicit OwnedFd(int f) : fd(f) {}
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    int fd;
    ~OwnedFd() {
        if (fd >= 0) ::close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

int accept_nonblocking(int listener, sockaddr_storage* peer, socklen_t* len) {
    auto* sa = reinterpret_cast<sockaddr*>(peer);
#if defined(__linux__)
    return ::accept4(listener, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = ::accept(listener, sa, len);
    if (fd >= 0) {
        set_nonblocking(fd, true);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#if defined(SO_NOSIGPIPE)
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    }
    return fd;
#endif
}

}  // namespace

Acceptor::Acceptor(Loop& loop, ListenSocket socket, int addr_index, bool keep_local)
    : loop_(loop),
      socket_(std::move(socket)),
      addr_index_(addr_index),
      keep_local_(keep_local),
      rng_(static_cast<unsigned>(std::random_device{}())) {
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Acceptor::~Acceptor() {
    if (resume_timer_) loop_.timers().cancel(resume_timer_);
    loop_.unwatch(socket_.fd());
    if (spare_fd_ >= 0) ::close(spare_fd_);
}

int Acceptor::start() {
    return loop_.watch(socket_.fd(), kReadable, this);
}

// ANCHOR: accept-loop
void Acceptor::on_accept() {
    const Options& opt = loop_.shared().options;
    for (int i = 0; i < kAcceptsPerWakeup; ++i) {
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        int fd = accept_nonblocking(socket_.fd(), &peer, &len);
        loop_.trace("loop %d: accept on fd %d -> %d%s%s", loop_.index(), socket_.fd(), fd, fd < 0 ? " " : "",
                    fd < 0 ? std::strerror(errno) : "");
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            if (err == EINTR) continue;
            if (err == EMFILE || err == ENFILE) return on_fd_exhaustion(err);
            if (err == ENOBUFS || err == ENOMEM) {
                warn_limited("accept-mem", std::string("evloop: accept: ") + std::strerror(err));
                return pause();
            }
            // ECONNABORTED, EPROTO, EPERM (a firewall), ...: one client's failure.
            warn_limited("accept", std::string("evloop: accept: ") + std::strerror(err) + " (skipped)");
            continue;
        }
        last_accept_ = loop_.now();
        if (!loop_.shared().reserve_conn()) {
            ::close(fd);
            warn_limited("max-conns", "evloop: " + std::to_string(opt.max_conns) +
                                          " connections open (the max_conns cap): closing a new one");
            continue;
        }
        hand_off(fd, peer, len);
    }
}
// ANCHOR_END: accept-loop

void Acceptor::on_fd_exhaustion(int error) {
    bool shed = loop_.now() - last_accept_ >= kShedAfter;
    warn_limited("emfile", std::string("evloop: accept: ") + std::strerror(error) +
                               (shed ? ": none freed for a while, closing pending connections"
                                     : ": pausing the listener until descriptors free up"));
    if (shed && spare_fd_ >= 0) {
        ::close(spare_fd_);
        spare_fd_ = -1;
        // The looping form: with one descriptor free, drain the backlog, one close each.
        for (int i = 0; i < 16 * kAcceptsPerWakeup; ++i) {
            int fd = ::accept(socket_.fd(), nullptr, nullptr);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                break;
            }
            ::close(fd);
        }
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        last_accept_ = loop_.now();
    }
    pause();
}

void Acceptor::pause() {
    if (resume_timer_) return;
    loop_.modify(socket_.fd(), kNone);
    resume_timer_ = loop_.timers().add(loop_.now() + kPause, [this] {
        resume_timer_ = 0;
        if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        loop_.modify(socket_.fd(), kReadable);
    });
}

// ANCHOR: balance
Loop& balanced_loop(Shared& shared, unsigned& counter, std::minstd_rand& rng) {
    auto& loops = shared.loops;
    auto n = static_cast<unsigned>(loops.size());
    if (n == 1) return *loops[0];
    switch (shared.options.balance) {
        case Balance::random:
            return *loops[rng() % n];
        case Balance::least_connections: {
            // Ties go round-robin, so short-lived connections (all loops at 0) still spread.
            unsigned start = counter++ % n, best = start;
            for (unsigned k = 1; k < n; ++k) {
                unsigned i = (start + k) % n;
                if (loops[i]->load.load() < loops[best]->load.load()) best = i;
            }
            return *loops[best];
        }
        case Balance::round_robin:
            break;
    }
    return *loops[counter++ % n];
}

Loop& Acceptor::choose() {
    return keep_local_ ? loop_ : balanced_loop(loop_.shared(), next_, rng_);
}
// ANCHOR_END: balance

void Acceptor::hand_off(int fd, const sockaddr_storage& peer, socklen_t peer_len) {
    Loop& target = choose();
    target.load.fetch_add(1);
    if (&target == &loop_) return adopt(loop_, fd, addr_index_, peer, peer_len);
    auto owned = std::make_shared<OwnedFd>(fd);
    int index = addr_index_;
    bool posted = target.mailbox()->post(
        [owned, index, peer, peer_len](Loop& l) { adopt(l, owned->release(), index, peer, peer_len); });
    if (!posted) {  // that loop has finished: `owned` closes the fd
        target.load.fetch_sub(1);
        loop_.shared().release_conn();
    }
}

}  // namespace evloop::detail
