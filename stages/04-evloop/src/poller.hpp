// The seam between a loop and the operating system's readiness API, in the spirit of
// Redis's ae: one small interface, one file per backend (poller_epoll.cpp,
// poller_kqueue.cpp, poller_poll.cpp). The loop owns each fd's interest and passes the old
// value with the new one, so a backend keeps nothing per fd that its OS API does not force
// on it, and can never disagree with the loop about what is registered.
//
// Each backend normalises what its kernel reports into the three facts the loop acts on,
// so the loop never sees EPOLLHUP, EV_EOF or POLLNVAL. Interest is level-triggered
// everywhere: an fd that stays readable is reported again on every wait until the loop
// drains it or drops interest. A registered fd whose socket fails or is reset is reported
// (as `hangup`) even while its interest is kNone: epoll and poll do that by themselves,
// kqueue is made to.
#pragma once

#include <memory>
#include <vector>

#include "evloop/evloop.hpp"

namespace evloop::detail {

enum Interest : unsigned { kNone = 0, kReadable = 1, kWritable = 2 };

struct PollEvent {
    int fd = -1;
    bool readable = false;  // read() will not block (it may return 0 or an error)
    bool writable = false;  // write() will not block (it may fail with EPIPE)
    bool hangup = false;    // the kernel says the socket is finished or broken (HUP, ERR)
    int error = 0;          // the socket's error, when the backend learned it on the way (kqueue)
};

class Poller {
public:
    virtual ~Poller() = default;
    // Each returns 0 or an errno value.
    virtual int add(int fd, unsigned interest) = 0;
    virtual int modify(int fd, unsigned before, unsigned after) = 0;
    virtual int remove(int fd, unsigned before) = 0;
    // Waits up to timeout_ms (-1: forever) and replaces `out` with at most one event per
    // fd. Returns the number of events, 0 on timeout or EINTR, or -errno.
    virtual int wait(std::vector<PollEvent>& out, int timeout_ms) = 0;
    virtual const char* name() const = 0;
};

// nullptr with *error set when the backend is not compiled in or cannot be created.
std::unique_ptr<Poller> make_poller(Backend backend, int* error);

#if defined(__linux__)
std::unique_ptr<Poller> make_epoll_poller(int* error);
#endif
#if defined(EVLOOP_HAVE_KQUEUE)
std::unique_ptr<Poller> make_kqueue_poller(int* error);
#endif
std::unique_ptr<Poller> make_poll_poller(int* error);

}  // namespace evloop::detail
