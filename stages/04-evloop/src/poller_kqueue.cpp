// kqueue(2), the BSD and macOS readiness API (on Linux through libkqueue). Its design,
// and the differences from epoll that shape this file:
//  - Read and write readiness are separate filters (EVFILT_READ, EVFILT_WRITE), each
//    added and deleted on its own and each reported as its own event. The loop wants
//    one event per fd, so wait() merges the two.
//  - EV_EOF on the read filter means the peer shut down its side; there may still be
//    data to read, and read() returns 0 after it. fflags then holds the socket error,
//    if any. EV_EOF on the write filter means nothing more can be written.
//  - With no filter at all, kqueue says nothing about a socket, not even that it was
//    reset, where epoll and poll always report a hangup. So an fd whose interest is
//    kNone keeps its read filter in a third mode, a watch: EV_CLEAR makes it fire once
//    per change of the socket instead of on every wait, and the udata tag tells wait()
//    to report only a failure from it.
//  - Changes could be batched into the next kevent() call (a changelist, kqueue's answer
//    to one epoll_ctl per change); here each is applied at once, so that an error
//    belongs to the loop's call that caused it, as with the other backends.
//  - Apart from merging, nothing per fd is kept here: the loop passes the old interest
//    with the new, and the filters to add or delete follow from the two.
#include <sys/types.h>
// The kqueue header needs the types above and, on Linux, libkqueue's copy of it.
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "poller.hpp"

namespace evloop::detail {
namespace {

constexpr unsigned kAbsent = 1u << 8;  // "before" of add() and "after" of remove(): no filters
constexpr std::intptr_t kWatchTag = 1;

enum class ReadMode { none, read, watch };

ReadMode read_mode(unsigned interest) {
    if (interest == kAbsent) return ReadMode::none;
    if (interest & kReadable) return ReadMode::read;
    return interest == kNone ? ReadMode::watch : ReadMode::none;
}

bool wants_write(unsigned interest) {
    return interest != kAbsent && (interest & kWritable);
}

class KqueuePoller final : public Poller {
public:
    explicit KqueuePoller(int fd) : kq_(fd) {}
    ~KqueuePoller() override { ::close(kq_); }

    int add(int fd, unsigned interest) override { return change(fd, kAbsent, interest); }
    int modify(int fd, unsigned before, unsigned after) override { return change(fd, before, after); }
    int remove(int fd, unsigned before) override { return change(fd, before, kAbsent); }

    int wait(std::vector<PollEvent>& out, int timeout_ms) override {
        out.clear();
        timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000L};
        int n = ::kevent(kq_, nullptr, 0, events_.data(), static_cast<int>(events_.size()),
                         timeout_ms < 0 ? nullptr : &ts);
        if (n < 0) return errno == EINTR ? 0 : -errno;
        for (int i = 0; i < n; ++i) {
            const struct kevent& e = events_[static_cast<std::size_t>(i)];
            bool failed = (e.flags & EV_ERROR) || ((e.flags & EV_EOF) && e.fflags != 0);
            if (reinterpret_cast<std::intptr_t>(e.udata) == kWatchTag && !failed) continue;
            PollEvent& ev = merged(static_cast<int>(e.ident), out);
            if (e.filter == EVFILT_READ) ev.readable = true;
            if (e.filter == EVFILT_WRITE) {
                ev.writable = true;
                failed = failed || (e.flags & EV_EOF);
            }
            if (failed) ev.readable = ev.writable = ev.hangup = true;
            // libkqueue reads SO_ERROR to fill fflags, which clears it (getsockopt(2)):
            // pass it on, or the loop would find no error and take a reset for an orderly end.
            if ((e.flags & EV_EOF) && e.fflags != 0) ev.error = static_cast<int>(e.fflags);
            if (e.flags & EV_ERROR) ev.error = static_cast<int>(e.data);
        }
        for (const auto& ev : out)
            slot_[static_cast<std::size_t>(ev.fd)] = -1;
        if (n == static_cast<int>(events_.size()) && events_.size() < 65536)
            events_.resize(events_.size() * 2);
        return static_cast<int>(out.size());
    }

    const char* name() const override { return "kqueue"; }

private:
    // The one event for fd in this wait's output; slot_ is scratch, reset after each wait.
    PollEvent& merged(int fd, std::vector<PollEvent>& out) {
        auto i = static_cast<std::size_t>(fd);
        if (i >= slot_.size()) slot_.resize(i + 1, -1);
        if (slot_[i] < 0) {
            slot_[i] = static_cast<int>(out.size());
            out.push_back(PollEvent{fd, false, false, false});
        }
        return out[static_cast<std::size_t>(slot_[i])];
    }

    int change(int fd, unsigned before, unsigned after) {
        if (fd < 0) return EBADF;
        struct kevent changes[3];
        int n = 0;
        auto set = [&](short filter, unsigned short flags, std::intptr_t tag) {
            EV_SET(&changes[n], static_cast<uintptr_t>(fd), filter, flags, 0, 0,
                   reinterpret_cast<void*>(tag));
            ++n;
        };
        ReadMode was = read_mode(before), now = read_mode(after);
        if (was != now) {
            if (was != ReadMode::none) set(EVFILT_READ, EV_DELETE, 0);
            if (now == ReadMode::read) set(EVFILT_READ, EV_ADD, 0);
            if (now == ReadMode::watch) set(EVFILT_READ, EV_ADD | EV_CLEAR, kWatchTag);
        }
        if (wants_write(before) != wants_write(after))
            set(EVFILT_WRITE, wants_write(after) ? EV_ADD : EV_DELETE, 0);
        if (n == 0) return 0;
        return ::kevent(kq_, changes, n, nullptr, 0, nullptr) == 0 ? 0 : errno;
    }

    int kq_;
    std::vector<struct kevent> events_ = std::vector<struct kevent>(256);
    std::vector<int> slot_;  // fd -> index in this wait's output, or -1
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
