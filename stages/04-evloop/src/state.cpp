// A stream connection's state machine (the picture is in connection.hpp): settle() runs
// after every callback and every event, carries out what the application asked for, and
// moves to the state that follows; enter() arms the timer that bounds each ending state.
// Also here: the ways out (close_conn, detach_now) and the connection's timers.
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

#include <algorithm>
#include <cerrno>

#include "address.hpp"
#include "connection.hpp"

namespace evloop::detail {
namespace {

const char* state_name(Connection::State s) {
    using S = Connection::State;
    switch (s) {
        case S::connecting:
            return "connecting";
        case S::open:
            return "open";
        case S::shutting:
            return "shutting";
        case S::write_shut:
            return "write-shut";
        case S::half_closed:
            return "half-closed";
        case S::closing:
            return "closing";
        case S::lingering:
            return "lingering";
        case S::detaching:
            return "detaching";
        case S::closed:
            return "closed";
    }
    return "?";
}

// Whether close(2) now could destroy anything: bytes the kernel still holds for the peer
// (unsent, or sent and not yet acknowledged), or input nobody has read, which turns the
// close into a reset. Where the kernel cannot say, assume it could.
bool close_is_safe(int fd) {
    int n = 0;
#if defined(SIOCOUTQ)
    if (::ioctl(fd, SIOCOUTQ, &n) != 0 || n > 0) return false;  // tcp(7), unix(7)
#elif defined(FIONWRITE)
    if (::ioctl(fd, FIONWRITE, &n) != 0 || n > 0) return false;  // the BSDs
#elif defined(SO_NWRITE)
    socklen_t len = sizeof n;
    if (::getsockopt(fd, SOL_SOCKET, SO_NWRITE, &n, &len) != 0 || n > 0) return false;  // macOS
#else
    return false;
#endif
    return ::ioctl(fd, FIONREAD, &n) == 0 && n == 0;
}

}  // namespace

// ANCHOR: settle
void Connection::settle(Action action) {
    if (state_ == State::closed) return;
    const Events& ev = loop_.shared().events;
    if (action == Action::close) request_close(0);
    if (action == Action::shutdown) loop_.shared().request_stop();
    if (action == Action::detach && (state_ == State::open || state_ == State::half_closed)) {
        if (ev.detached)
            enter(State::detaching);
        else
            request_close(0);
    }
    // While waiting for writable the kernel's buffer is full: the writable event flushes.
    if (!failed_ && state_ != State::connecting && !(loop_.interest(fd_) & kWritable)) flush();
    if (failed_) return close_conn(failed_, true);
    advance();
    if (state_ == State::closed) return;
    if (int err = loop_.modify(fd_, wanted())) close_conn(err, true);
}
// ANCHOR_END: settle

// ANCHOR: advance
// The steps that follow from the state alone, once output has been sent.
void Connection::advance() {
    if (!output_.empty()) return;
    switch (state_) {
        case State::shutting:
            ::shutdown(fd_, SHUT_WR);
            loop_.trace("loop %d: fd %d shutdown(SHUT_WR)", loop_.index(), fd_);
            enter(State::write_shut);
            break;
        case State::closing:
            // If the peer has finished too, or the kernel holds nothing a reset could
            // destroy, close now (close(2) sends the FIN). Otherwise our FIN goes first and
            // we linger, reading, for the peer's.
            if (peer_eof_ || close_is_safe(fd_)) return close_conn(reason_, false);
            ::shutdown(fd_, SHUT_WR);
            loop_.trace("loop %d: fd %d shutdown(SHUT_WR)", loop_.index(), fd_);
            enter(State::lingering);
            break;
        case State::lingering:
            if (peer_eof_) close_conn(reason_, false);
            break;
        case State::detaching:
            detach_now();
            break;
        default:
            break;
    }
}

unsigned Connection::wanted() const {
    unsigned out = output_.empty() ? kNone : kWritable;
    bool reading = !paused_ && !throttled_;
    switch (state_) {
        case State::connecting:
            return kWritable;
        case State::open:
        case State::shutting:
        case State::write_shut:
            return out | (reading ? kReadable : kNone);
        case State::closing:
            return out | (peer_eof_ ? kNone : kReadable);  // read and discard while flushing
        case State::lingering:
            return kReadable;
        case State::half_closed:
        case State::detaching:
        case State::closed:
            break;
    }
    return out;
}
// ANCHOR_END: advance

// ANCHOR: enter
void Connection::enter(State next) {
    loop_.trace("loop %d: fd %d %s -> %s", loop_.index(), fd_, state_name(state_), state_name(next));
    state_ = next;
    const Options& opt = loop_.shared().options;
    switch (next) {
        case State::half_closed:
        case State::shutting:
        case State::closing:
        case State::detaching:
            // One bound over the whole ending, counted from the last progress (and an
            // ending begins with some: the peer's FIN, or the application's close).
            last_active_ = loop_.now();
            if (state_timer_ == 0) arm_close_timer();
            break;
        case State::lingering:
            // Everything was handed to the kernel; all that is left is the peer's FIN.
            if (state_timer_) loop_.timers().cancel(state_timer_);
            state_timer_ = loop_.timers().add(deadline(loop_.now(), opt.linger_timeout), [this] {
                state_timer_ = 0;
                close_conn(reason_, false);
            });
            break;
        case State::write_shut:
            if (state_timer_) loop_.timers().cancel(std::exchange(state_timer_, 0));
            break;
        default:
            break;
    }
}
// ANCHOR_END: enter

void Connection::request_close(int reason) {
    switch (state_) {
        case State::open:
        case State::half_closed:
        case State::shutting:
        case State::write_shut:
            reason_ = reason;
            enter(State::closing);
            break;
        default:
            break;  // already on its way out (or not yet open)
    }
}

void Connection::shutdown_write() {
    if (state_ == State::open) enter(State::shutting);
    if (state_ == State::half_closed) request_close(0);  // the peer is done too: that is a close
}

void Connection::reset() {
    if (state_ != State::closed && state_ != State::connecting) failed_ = ECONNABORTED;
}

void Connection::begin_stop() {
    if (state_ == State::connecting) return fail_dial(ECANCELED);
    request_close(0);
    settle();
}

void Connection::force_close(int error_if_unsent) {
    if (state_ == State::connecting) return fail_dial(ECANCELED);
    if (output_.empty() && state_ == State::lingering) return close_conn(reason_, false);
    close_conn(error_if_unsent, true);
}

// ANCHOR: close-conn
// abortive: the connection is given up with bytes unsent or unread, so the peer should
// see a reset rather than a clean end of a truncated stream (SO_LINGER of 0, socket(7)).
void Connection::close_conn(int error, bool abortive) {
    if (state_ == State::closed) return;
    bool was_open = is_open();
    state_ = State::closed;
    loop_.trace("loop %d: fd %d close (%d)", loop_.index(), fd_, error);
    release();
    if (abortive) {
        linger hard{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    ::close(fd_);
    const Events& ev = loop_.shared().events;
    if (was_open && ev.closed) invoke(ev.closed, error);
    loop_.conns().release(fd_);
}
// ANCHOR_END: close-conn

// Out of the poller, the timers and the counts; the fd itself is the caller's to close.
void Connection::release() {
    loop_.unwatch(fd_);
    if (idle_timer_) loop_.timers().cancel(std::exchange(idle_timer_, 0));
    if (state_timer_) loop_.timers().cancel(std::exchange(state_timer_, 0));
    if (extra_)
        for (auto id : std::exchange(extra_->app_timers, {}))
            loop_.timers().cancel(id);  // their functions (and what they hold) go now
    if (extra_ && extra_->remote) extra_->remote->closed.store(true);
    if (addr_index_ >= 0) {
        loop_.load.fetch_sub(1);
        loop_.shared().release_conn();
    }
}

}  // namespace evloop::detail
