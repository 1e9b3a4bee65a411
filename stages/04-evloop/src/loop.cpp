// The loop itself: wait, dispatch each event to its fd's handler, run due timers, free
// what closed, repeat. Level-triggered throughout, like Redis, libuv and evio: a handler
// may leave work for the next round, and fairness between connections comes free.
#include "loop.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <utility>

#include "address.hpp"
#include "connection.hpp"

namespace evloop::detail {

Loop::Loop(Shared& shared, int index, std::unique_ptr<Poller> poller, std::shared_ptr<Mailbox> mailbox)
    : shared_(shared),
      index_(index),
      poller_(std::move(poller)),
      mailbox_(std::move(mailbox)),
      now_(TimerQueue::Clock::now()) {
    waker_ = make_waker(*this);
}

Loop::~Loop() {
    // Owned handlers unwatch themselves, so they go while the tables still exist.
    ios_.clear();
    conns_.clear();
    graveyard_.clear();
    mailbox_->close();
}

int Loop::watch(int fd, unsigned interest, IoHandler* handler) {
    if (int err = poller_->add(fd, interest)) return err;
    auto slot = static_cast<std::size_t>(fd);
    if (slot >= handlers_.size()) {
        handlers_.resize(slot + 1, nullptr);
        conns_.resize(slot + 1);
        stale_.resize(slot + 1, 0);
    }
    handlers_[slot] = handler;  // a stale mark stays until the batch ends: see unwatch()
    return 0;
}

void Loop::unwatch(int fd) {
    poller_->remove(fd);
    auto slot = static_cast<std::size_t>(fd);
    if (fd < 0 || slot >= handlers_.size()) return;
    handlers_[slot] = nullptr;
    // An event for this fd later in the current batch is stale, even if a new
    // connection receives the same fd number meanwhile (nginx's "instance" bit).
    if (!stale_[slot]) {
        stale_[slot] = 1;
        stale_list_.push_back(fd);
    }
}

void Loop::adopt(int fd, int addr_index, const sockaddr_storage& peer, socklen_t peer_len) {
    if (stopping_) {
        ::close(fd);
        load.fetch_sub(1);
        shared_.conns.fetch_sub(1);
        return;
    }
    auto scheme = shared_.addresses[static_cast<std::size_t>(addr_index)].scheme;
    auto conn = std::make_unique<Connection>(*this, fd, addr_index, next_generation_++,
                                             make_address(scheme, peer, peer_len), false);
    Connection* c = conn.get();
    auto slot = static_cast<std::size_t>(fd);
    if (slot >= conns_.size()) {
        handlers_.resize(slot + 1, nullptr);
        conns_.resize(slot + 1);
        stale_.resize(slot + 1, 0);
    }
    conns_[slot] = std::move(conn);
    ++open_conns_;
    trace("loop %d: fd %d opened", index_, fd);
    c->open();
}

Connection* Loop::find(int fd, std::uint64_t generation) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= conns_.size()) return nullptr;
    Connection* c = conns_[static_cast<std::size_t>(fd)].get();
    return c && c->is_open() && c->generation() == generation ? c : nullptr;
}

void Loop::release(int fd) {
    auto slot = static_cast<std::size_t>(fd);
    graveyard_.push_back(std::move(conns_[slot]));
    --open_conns_;
    load.fetch_sub(1);
    shared_.conns.fetch_sub(1);
}

void Loop::add_io(std::unique_ptr<IoHandler> handler) {
    ios_.push_back(std::move(handler));
}

// ANCHOR: loop-run
void Loop::run() {
    if (int err = watch(mailbox_->read_fd(), kReadable, waker_.get())) {
        warn_limited("loop", "evloop: cannot watch the wakeup fd: " + std::to_string(err));
        return;
    }
    shared_.started(*this);
    while (!(stopping_ && open_conns_ == 0)) {
        now_ = TimerQueue::Clock::now();
        int n = poller_->wait(events_, timeout_ms(now_, timers_.next()));
        if (n < 0) {
            warn_limited("poll",
                         std::string("evloop: ") + poller_->name() + " wait failed: " + std::to_string(-n));
            shared_.request_stop();
            force_close_all(-n);
            break;
        }
        now_ = TimerQueue::Clock::now();
        for (const auto& event : events_)
            dispatch(event);
        for (int fd : stale_list_)
            stale_[static_cast<std::size_t>(fd)] = 0;
        stale_list_.clear();
        now_ = TimerQueue::Clock::now();
        timers_.run_due(now_);
        graveyard_.clear();
    }
    unwatch(mailbox_->read_fd());
    mailbox_->close();
    ios_.clear();
    graveyard_.clear();
}
// ANCHOR_END: loop-run

void Loop::dispatch(const PollEvent& event) {
    auto slot = static_cast<std::size_t>(event.fd);
    if (slot >= handlers_.size() || stale_[slot] || !handlers_[slot]) return;
    trace("loop %d: fd %d%s%s%s", index_, event.fd, event.readable ? " readable" : "",
          event.writable ? " writable" : "", event.hangup ? " hangup" : "");
    handlers_[slot]->on_event(event);
}

void Loop::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    trace("loop %d: stopping with %ld connections", index_, open_conns_);
    ios_.clear();  // closes this loop's listeners (and removes unix socket files)
    for (auto& c : conns_)
        if (c && c->is_open()) c->begin_stop();
    if (open_conns_ > 0)
        timers_.add(now_ + shared_.options.stop_timeout, [this] { force_close_all(ECANCELED); });
}

void Loop::force_close_all(int error) {
    for (auto& c : conns_)
        if (c && c->is_open()) c->close_now(error);
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
