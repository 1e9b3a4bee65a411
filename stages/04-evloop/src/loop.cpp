// The loop itself: wait, dispatch each event to its fd's handler, run due timers, free
// what closed, repeat. Level-triggered throughout, like Redis, libuv and evio: a handler
// may leave work for the next round, and fairness between connections comes free.
#include "loop.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace evloop::detail {
namespace {

thread_local Loop* t_current = nullptr;

// Runs the mailbox's tasks when its fd becomes readable.
class Waker final : public IoHandler {
public:
    explicit Waker(Loop& loop) : loop_(loop) {}
    void on_event(const PollEvent&) override {
        loop_.mailbox()->drain_wakeups();
        for (auto& task : loop_.mailbox()->take()) {
            task(loop_);
            loop_.run_deferred();
        }
    }

private:
    Loop& loop_;
};

}  // namespace

Loop::Loop(Shared& shared, int index, std::unique_ptr<Poller> poller, std::shared_ptr<Mailbox> mailbox)
    : shared_(shared),
      index_(index),
      poller_(std::move(poller)),
      mailbox_(std::move(mailbox)),
      now_(TimerQueue::Clock::now()),
      waker_(std::make_unique<Waker>(*this)) {}

Loop::~Loop() {
    // Owned handlers unwatch themselves, so they go while the records still exist.
    ios_.clear();
    conns_.destroy_all();
    mailbox_->close();
}

Loop* Loop::current() {
    return t_current;
}

int Loop::start() {
    return watch(mailbox_->read_fd(), kReadable, waker_.get());
}

Loop::FdRecord* Loop::record(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return nullptr;
    return &fds_[static_cast<std::size_t>(fd)];
}

unsigned Loop::interest(int fd) const {
    auto slot = static_cast<std::size_t>(fd);
    return fd >= 0 && slot < fds_.size() ? fds_[slot].interest : kNone;
}

// ANCHOR: registration
int Loop::watch(int fd, unsigned interest, IoHandler* handler) {
    if (fd < 0) return EBADF;
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    FdRecord& r = fds_[static_cast<std::size_t>(fd)];
    if (r.handler) return EEXIST;
    if (int err = poller_->add(fd, interest)) return err;
    // A stale mark stays until the batch ends: an event for the old fd is still old news.
    r.handler = handler;
    r.interest = interest;
    r.in_poller = true;
    return 0;
}

int Loop::modify(int fd, unsigned interest) {
    FdRecord* r = record(fd);
    if (!r || !r->handler) return ENOENT;
    if (r->in_poller && r->interest == interest) return 0;
    int err = r->in_poller ? poller_->modify(fd, r->interest, interest) : poller_->add(fd, interest);
    if (err) return err;
    r->interest = interest;
    r->in_poller = true;
    return 0;
}

void Loop::mute(int fd) {
    FdRecord* r = record(fd);
    if (!r || !r->handler || !r->in_poller) return;
    poller_->remove(fd, r->interest);
    r->in_poller = false;
    r->interest = kNone;
    trace("loop %d: fd %d muted", index_, fd);
}

void Loop::unwatch(int fd) {
    FdRecord* r = record(fd);
    if (!r || !r->handler) return;
    if (r->in_poller) poller_->remove(fd, r->interest);
    *r = FdRecord{};
    // An event for this fd later in the current batch is stale, even if a new
    // connection receives the same fd number meanwhile (nginx's "instance" bit).
    r->stale = true;
    stale_list_.push_back(fd);
}
// ANCHOR_END: registration

void Loop::add_io(std::unique_ptr<IoHandler> handler) {
    ios_.push_back(std::move(handler));
}

void Loop::run_deferred() {
    while (!deferred_.empty()) {
        deferred_now_.swap(deferred_);
        for (const auto& d : deferred_now_)
            conns_.settle(d.fd, d.generation);
        deferred_now_.clear();
    }
}

// ANCHOR: loop-run
void Loop::run() {
    t_current = this;
    try {
        while (!(stopping_ && conns_.count() == 0))
            turn();
    } catch (...) {
        // Not an application callback (those are contained where they are called): the
        // library itself failed, out of memory say. Stop the server and close what is here.
        shared_.fail(std::current_exception());
        conns_.close_all(ECONNABORTED);
    }
    unwatch(mailbox_->read_fd());
    mailbox_->close();
    ios_.clear();
    conns_.collect();
    t_current = nullptr;
}

void Loop::turn() {
    now_ = TimerQueue::Clock::now();
    int n = poller_->wait(events_, timeout_ms(now_, timers_.next()));
    if (n < 0) {
        warn_limited("poll",
                     std::string("evloop: ") + poller_->name() + " wait failed: " + std::strerror(-n));
        shared_.request_stop();
        conns_.close_all(-n);
        stopping_ = true;
        return;
    }
    now_ = TimerQueue::Clock::now();
    for (const auto& event : events_)
        dispatch(event);
    for (int fd : stale_list_)
        if (FdRecord* r = record(fd)) r->stale = false;
    stale_list_.clear();
    now_ = TimerQueue::Clock::now();
    timers_.run_due(now_);
    run_deferred();
    conns_.collect();
}
// ANCHOR_END: loop-run

void Loop::dispatch(const PollEvent& event) {
    FdRecord* r = record(event.fd);
    if (!r || r->stale || !r->handler) return;
    trace("loop %d: fd %d%s%s%s", index_, event.fd, event.readable ? " readable" : "",
          event.writable ? " writable" : "", event.hangup ? " hangup" : "");
    r->handler->on_event(event);
    run_deferred();
}

void Loop::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    trace("loop %d: stopping with %ld connections", index_, conns_.count());
    ios_.clear();  // closes this loop's listeners (and removes unix socket files)
    conns_.begin_stop();
    if (conns_.count() > 0)
        timers_.add(deadline(now_, shared_.options.stop_timeout), [this] { conns_.close_all(ECANCELED); });
}

void Loop::trace(const char* format, ...) {
    if (!shared_.options.trace) return;
    char line[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    std::fprintf(stderr, "%s\n", line);  // one call per line: lines from loops never interleave
}

}  // namespace evloop::detail
