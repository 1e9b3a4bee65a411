// A connection's output: appending, writing it out, backpressure, and what happens once
// it has all gone (close, detach, or the half-close). Reading pauses above the high water
// mark and resumes below the low one; drained fires on the way down, so an application
// streaming a large reply can write it piece by piece instead of all at once.
#include <sys/socket.h>

#include <cerrno>

#include "connection.hpp"

namespace evloop::detail {
namespace {

#if defined(MSG_NOSIGNAL)
constexpr int kNoSignal = MSG_NOSIGNAL;  // EPIPE instead of SIGPIPE (send(2))
#else
constexpr int kNoSignal = 0;  // the BSDs: SO_NOSIGPIPE is set on the socket instead
#endif

}  // namespace

void Connection::write(std::string_view bytes) {
    if (!open_) return;
    udp_wrote_ = true;
    output_.append(bytes);
    if (output_.empty()) return;
    flush_pending_ = true;
    const Options& opt = loop_.shared().options;
    if (output_.size() >= opt.low_water) above_low_ = true;
    if (output_.size() > opt.high_water) paused_ = true;
}

void Connection::after_app_call(Action action) {
    if (!open_ || udp_) return;
    const Events& ev = loop_.shared().events;
    if (action == Action::close) request_close();
    if (action == Action::detach && ending_ == Ending::none)
        ending_ = ev.detached ? Ending::detach : Ending::close;
    if (action == Action::shutdown) loop_.shared().request_stop();
    std::size_t cap = loop_.shared().options.max_output;
    if (cap > 0 && output_.size() > cap) {
        close_now(ENOBUFS);
        return;
    }
    flush();
    if (!open_) return;
    finish_if_flushed();
    if (open_) update_interest();
}

// ANCHOR: flush
void Connection::flush() {
    const Events& ev = loop_.shared().events;
    const Options& opt = loop_.shared().options;
    while (open_ && !output_.empty()) {
        if (ev.pre_write) {
            ev.pre_write(Conn(this), output_.size());
            if (!open_ || output_.empty()) break;
        }
        long n = ::send(fd_, output_.data(), output_.size(), kNoSignal);
        loop_.trace("loop %d: fd %d send %zu -> %ld", loop_.index(), fd_, output_.size(), n);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) close_now(errno);
            return;  // EAGAIN: the kernel's buffer is full; wait for writable
        }
        output_.consume(static_cast<std::size_t>(n));
        last_active_ = loop_.now();
        if (above_low_ && output_.size() < opt.low_water) {
            above_low_ = false;
            paused_ = false;
            if (ev.drained) ev.drained(Conn(this));
        }
        if (open_ && output_.empty() && flush_pending_) {
            flush_pending_ = false;
            output_.shrink_if_idle();
            if (ev.flushed) ev.flushed(Conn(this));
        }
    }
}
// ANCHOR_END: flush

// ANCHOR: ending
void Connection::finish_if_flushed() {
    if (!output_.empty()) {
        if (ending_ != Ending::none) arm_close_timer();
        return;
    }
    if (ending_ == Ending::detach) {
        detach_now();
    } else if (ending_ == Ending::close) {
        // After the peer's EOF our FIN is the last thing to send (the half-close).
        if (peer_eof_) ::shutdown(fd_, SHUT_WR);
        close_now(0);
    }
}

void Connection::update_interest() {
    unsigned want = kNone;
    if (!paused_ && !peer_eof_ && ending_ == Ending::none && !loop_.stopping()) want |= kReadable;
    if (!output_.empty()) want |= kWritable;
    if (want == interest_) return;
    if (int err = loop_.poller().modify(fd_, want)) {
        close_now(err);
        return;
    }
    interest_ = want;
}
// ANCHOR_END: ending

}  // namespace evloop::detail
