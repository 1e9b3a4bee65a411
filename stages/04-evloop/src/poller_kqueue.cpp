// kqueue(2), the BSD and macOS readiness API (on Linux through libkqueue). Its design,
// and the differences from epoll that shape this file:
//  - Read and write readiness are separate filters (EVFILT_READ, EVFILT_WRITE), each
//    added and deleted on its own and each reported as its own event. The loop wants
//    one event per fd, so wait() merges the two.
//  - EV_EOF on the read filter means the peer shut down its side; there may still be
//    data to read, and read() returns 0 after it. fflags then holds the socket error,
//    if any. EV_EOF on the write filter means nothing more can be written.
//  - EV_CLEAR would make a filter edge-triggered; it is not used, so like the other
//    backends this one is level-triggered.
//  - Changes can be batched into the next kevent() call; here they are applied at once
//    so that an error belongs to the call that caused it.
#include <sys/types.h>
// The kqueue header needs the types above and, on Linux, libkqueue's copy of it.
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>

#include "poller.hpp"

namespace evloop::detail {
namespace {

class KqueuePoller final : public Poller {
public:
    explicit KqueuePoller(int fd) : kq_(fd) {}
    ~KqueuePoller() override { ::close(kq_); }

    int add(int fd, unsigned interest) override {
        if (fd < 0) return EBADF;
        if (static_cast<std::size_t>(fd) >= interest_.size()) {
            interest_.resize(static_cast<std::size_t>(fd) + 1, kUnregistered);
            slot_.resize(interest_.size(), -1);
        }
        if (known(fd)) return EEXIST;
        return change(fd, kNone, interest);
    }
    int modify(int fd, unsigned interest) override {
        if (!known(fd)) return ENOENT;
        return change(fd, current(fd), interest);
    }
    int remove(int fd) override {
        if (!known(fd)) return ENOENT;
        int err = change(fd, current(fd), kNone);
        interest_[static_cast<std::size_t>(fd)] = kUnregistered;
        return err;
    }

    int wait(std::vector<PollEvent>& out, int timeout_ms) override {
        out.clear();
        timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000L};
        int n = ::kevent(kq_, nullptr, 0, events_.data(), static_cast<int>(events_.size()),
                         timeout_ms < 0 ? nullptr : &ts);
        if (n < 0) return errno == EINTR ? 0 : -errno;
        for (int i = 0; i < n; ++i) {
            const struct kevent& e = events_[static_cast<std::size_t>(i)];
            int fd = static_cast<int>(e.ident);
            if (!known(fd)) continue;
            // Merge the read and write filters' events for one fd into one PollEvent.
            int& slot = slot_[static_cast<std::size_t>(fd)];
            if (slot < 0) {
                slot = static_cast<int>(out.size());
                out.push_back(PollEvent{fd, false, false, false});
            }
            PollEvent& ev = out[static_cast<std::size_t>(slot)];
            if (e.filter == EVFILT_READ) {
                ev.readable = true;
                if ((e.flags & EV_EOF) && e.fflags != 0) ev.writable = ev.hangup = true;
            } else if (e.filter == EVFILT_WRITE) {
                ev.writable = true;
                if (e.flags & EV_EOF) ev.readable = ev.hangup = true;
            }
            if (e.flags & EV_ERROR) ev.readable = ev.writable = ev.hangup = true;
        }
        for (const auto& ev : out)
            slot_[static_cast<std::size_t>(ev.fd)] = -1;
        if (n == static_cast<int>(events_.size()) && events_.size() < 65536)
            events_.resize(events_.size() * 2);
        return static_cast<int>(out.size());
    }

    const char* name() const override { return "kqueue"; }

private:
    static constexpr int kUnregistered = -1;
    bool known(int fd) const {
        return fd >= 0 && static_cast<std::size_t>(fd) < interest_.size() &&
               interest_[static_cast<std::size_t>(fd)] != kUnregistered;
    }
    unsigned current(int fd) const { return static_cast<unsigned>(interest_[static_cast<std::size_t>(fd)]); }

    int change(int fd, unsigned before, unsigned after) {
        struct kevent changes[2];
        int n = 0;
        auto filter = [&](unsigned bit, short filt) {
            if ((before & bit) == (after & bit)) return;
            unsigned short flags = (after & bit) ? EV_ADD : EV_DELETE;
            EV_SET(&changes[n], static_cast<uintptr_t>(fd), filt, flags, 0, 0, nullptr);
            ++n;
        };
        filter(kReadable, EVFILT_READ);
        filter(kWritable, EVFILT_WRITE);
        interest_[static_cast<std::size_t>(fd)] = static_cast<int>(after);
        if (n == 0) return 0;
        return ::kevent(kq_, changes, n, nullptr, 0, nullptr) == 0 ? 0 : errno;
    }

    int kq_;
    std::vector<struct kevent> events_ = std::vector<struct kevent>(256);
    std::vector<int> interest_;  // fd -> filters currently added, or kUnregistered
    std::vector<int> slot_;      // fd -> index in this wait's output, or -1
};

}  // namespace

std::unique_ptr<Poller> make_kqueue_poller(int* error) {
    int fd = ::kqueue();
    if (fd < 0) {
        *error = errno;
        return nullptr;
    }
    return std::make_unique<KqueuePoller>(fd);
}

}  // namespace evloop::detail
