// poll(2): the portable fallback, and the clearest picture of what the others improve
// on. The whole interest set is copied into the kernel and scanned on every call, so
// a wait costs O(registered fds) however few are ready; epoll and kqueue keep the set
// in the kernel and return only the ready ones. Quirks handled here:
//  - POLLHUP, POLLERR and POLLNVAL are reported whether asked for or not; they become
//    `hangup`, readable and writable, so the loop's next call sees the error.
//  - An entry's events of 0 keeps the fd in the array but asks for nothing, so
//    "no interest" costs a slot (and still hears POLLHUP and POLLERR, as poller.hpp
//    promises); remove() swaps the last entry into the hole to keep the array dense.
//  - The array is the interest set poll(2) takes, so it is the one piece of per-fd state
//    this backend must keep; index_ maps an fd back to its slot in O(1).
#include "poller.hpp"

#include <poll.h>

#include <cerrno>

namespace evloop::detail {
namespace {

short to_poll(unsigned interest) {
    short events = 0;
    if (interest & kReadable) events |= POLLIN;
    if (interest & kWritable) events |= POLLOUT;
    return events;
}

class PollPoller final : public Poller {
public:
    int add(int fd, unsigned interest) override {
        if (fd < 0) return EBADF;
        if (static_cast<std::size_t>(fd) >= index_.size())
            index_.resize(static_cast<std::size_t>(fd) + 1, -1);
        if (index_[static_cast<std::size_t>(fd)] >= 0) return EEXIST;
        index_[static_cast<std::size_t>(fd)] = static_cast<int>(fds_.size());
        fds_.push_back(pollfd{fd, to_poll(interest), 0});
        return 0;
    }

    int modify(int fd, unsigned, unsigned interest) override {
        int slot = lookup(fd);
        if (slot < 0) return ENOENT;
        fds_[static_cast<std::size_t>(slot)].events = to_poll(interest);
        return 0;
    }

    int remove(int fd, unsigned) override {
        int slot = lookup(fd);
        if (slot < 0) return ENOENT;
        fds_[static_cast<std::size_t>(slot)] = fds_.back();
        index_[static_cast<std::size_t>(fds_.back().fd)] = slot;
        fds_.pop_back();
        index_[static_cast<std::size_t>(fd)] = -1;
        return 0;
    }

    int wait(std::vector<PollEvent>& out, int timeout_ms) override {
        out.clear();
        int n = ::poll(fds_.data(), fds_.size(), timeout_ms);
        if (n < 0) return errno == EINTR ? 0 : -errno;
        // The O(n) scan: the kernel marked the ready entries in place.
        for (const auto& p : fds_) {
            if (p.revents == 0) continue;
            PollEvent ev;
            ev.fd = p.fd;
            ev.readable = (p.revents & POLLIN) != 0;
            ev.writable = (p.revents & POLLOUT) != 0;
            if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) ev.readable = ev.writable = ev.hangup = true;
            out.push_back(ev);
            if (static_cast<int>(out.size()) == n) break;
        }
        return static_cast<int>(out.size());
    }

    const char* name() const override { return "poll"; }

private:
    int lookup(int fd) const {
        if (fd < 0 || static_cast<std::size_t>(fd) >= index_.size()) return -1;
        return index_[static_cast<std::size_t>(fd)];
    }

    std::vector<pollfd> fds_;
    std::vector<int> index_;  // fd -> position in fds_, or -1
};

}  // namespace

std::unique_ptr<Poller> make_poll_poller(int*) {
    return std::make_unique<PollPoller>();
}

}  // namespace evloop::detail
