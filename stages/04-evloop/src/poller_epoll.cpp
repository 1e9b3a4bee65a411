// epoll(7), Linux's readiness API. Used level-triggered here (see stage 03 for the
// edge-triggered form and what it costs). Its quirks, and what this file does about them:
//  - EPOLLERR and EPOLLHUP are reported whether or not they were asked for, so an fd
//    with no interest still hears that its socket failed (what poller.hpp promises). An
//    orderly HUP (both directions shut) would be reported on every wait: the loop takes
//    such an fd out of the set until it wants something again (Loop::mute).
//  - Interest is kept per open file description, not per fd: an fd closed without
//    EPOLL_CTL_DEL disappears from the set only when every duplicate is closed. The
//    loop always removes before it closes.
//  - One epoll_ctl() call per change: no batching as kqueue has. The old interest the
//    loop passes in is not needed: epoll keeps the whole mask per fd itself.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "poller.hpp"

namespace evloop::detail {
namespace {

std::uint32_t to_epoll(unsigned interest) {
    std::uint32_t events = 0;
    if (interest & kReadable) events |= EPOLLIN;
    if (interest & kWritable) events |= EPOLLOUT;
    return events;
}

class EpollPoller final : public Poller {
public:
    explicit EpollPoller(int fd) : epfd_(fd) {}
    ~EpollPoller() override { ::close(epfd_); }

    int add(int fd, unsigned interest) override { return control(EPOLL_CTL_ADD, fd, interest); }
    int modify(int fd, unsigned, unsigned after) override { return control(EPOLL_CTL_MOD, fd, after); }
    int remove(int fd, unsigned) override {
        // A non-null event pointer keeps kernels before 2.6.9 happy (epoll_ctl(2) BUGS).
        epoll_event ev{};
        return ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : errno;
    }

    int wait(std::vector<PollEvent>& out, int timeout_ms) override {
        int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
        out.clear();
        if (n < 0) return errno == EINTR ? 0 : -errno;
        for (int i = 0; i < n; ++i) {
            const auto& e = events_[static_cast<std::size_t>(i)];
            PollEvent ev;
            ev.fd = e.data.fd;
            ev.readable = (e.events & (EPOLLIN | EPOLLPRI)) != 0;
            ev.writable = (e.events & EPOLLOUT) != 0;
            // A hung-up or failed socket is both readable and writable: whichever the
            // loop tries next reports the error (Redis's ae_epoll.c does the same).
            if (e.events & (EPOLLERR | EPOLLHUP)) ev.readable = ev.writable = ev.hangup = true;
            out.push_back(ev);
        }
        // A full batch suggests more were ready: grow so one wait can see them all.
        if (n == static_cast<int>(events_.size()) && events_.size() < 65536)
            events_.resize(events_.size() * 2);
        return n;
    }

    const char* name() const override { return "epoll"; }

private:
    int control(int op, int fd, unsigned interest) {
        epoll_event ev{};
        ev.events = to_epoll(interest);
        ev.data.fd = fd;
        return ::epoll_ctl(epfd_, op, fd, &ev) == 0 ? 0 : errno;
    }

    int epfd_;
    std::vector<epoll_event> events_ = std::vector<epoll_event>(256);
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller(int* error) {
    int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) {
        *error = errno;
        return nullptr;
    }
    return std::make_unique<EpollPoller>(fd);
}

}  // namespace evloop::detail
