// A connection's write side: sending, queueing what the kernel will not take yet,
// backpressure, and the drained and flushed edges. Reading pauses above the high water
// mark and resumes at the low one; drained fires on the way down, so an application
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

bool Connection::accepts_writes() const {
    return state_ == State::open || state_ == State::half_closed || state_ == State::connecting;
}

// ANCHOR: write
void Connection::write(std::string_view bytes) {
    if (!accepts_writes() || bytes.empty() || failed_) return;
    unflushed_ = true;
    // Stage 03's write-through: with nothing queued (and the socket not known to be
    // full), send straight from the caller's bytes and queue only what is left.
    if (output_.empty() && state_ != State::connecting && !(loop_.interest(fd_) & kWritable)) {
        bytes.remove_prefix(send_direct(bytes));
        if (bytes.empty() || failed_) return;
    }
    std::size_t bound = loop_.shared().options.max_output;
    if (bound > 0 && output_.size() + bytes.size() > bound) {
        loop_.trace("loop %d: fd %d output over max_output", loop_.index(), fd_);
        failed_ = ENOBUFS;
        return;
    }
    output_.append(bytes);
    on_output_change();
}
// ANCHOR_END: write

// Returns how many bytes the kernel took; a real error is left in failed_ for settle().
std::size_t Connection::send_direct(std::string_view bytes) {
    const Events& ev = loop_.shared().events;
    if (ev.pre_write) {
        invoke(ev.pre_write, bytes.size());
        if (!accepts_writes() || failed_) return 0;
    }
    for (;;) {
        long n = ::send(fd_, bytes.data(), bytes.size(), kNoSignal);
        loop_.trace("loop %d: fd %d send %zu -> %ld", loop_.index(), fd_, bytes.size(), n);
        if (n >= 0) {
            last_active_ = loop_.now();
            return static_cast<std::size_t>(n);
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) failed_ = errno;
        return 0;
    }
}

// ANCHOR: flush
void Connection::flush() {
    const Events& ev = loop_.shared().events;
    const std::size_t low = loop_.shared().low_water;
    while (!output_.empty() && state_ != State::closed && !failed_) {
        if (ev.pre_write) {
            invoke(ev.pre_write, output_.size());
            if (state_ == State::closed || failed_ || output_.empty()) break;
        }
        long n = ::send(fd_, output_.data(), output_.size(), kNoSignal);
        loop_.trace("loop %d: fd %d send %zu -> %ld", loop_.index(), fd_, output_.size(), n);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) failed_ = errno;
            break;  // EAGAIN: the kernel's buffer is full; wait for writable
        }
        output_.consume(static_cast<std::size_t>(n));
        last_active_ = loop_.now();
        if (above_low_ && output_.size() <= low) {
            above_low_ = throttled_ = false;
            if (ev.drained) invoke(ev.drained);
        }
    }
    on_output_change();
    if (output_.empty()) output_.shrink_if_idle();
    if (output_.empty() && unflushed_ && state_ != State::closed && !failed_) {
        unflushed_ = false;
        if (ev.flushed) invoke(ev.flushed);
    }
}
// ANCHOR_END: flush

void Connection::on_output_change() {
    const Shared& s = loop_.shared();
    if (output_.size() > s.low_water) above_low_ = true;
    if (pause_on_high_ && output_.size() > s.options.high_water) throttled_ = true;
    if (extra_ && extra_->remote) extra_->remote->pending.store(output_.size(), std::memory_order_relaxed);
}

}  // namespace evloop::detail
