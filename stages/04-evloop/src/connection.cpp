// A stream connection's read side: opening, reading, presenting input to the application
// (and keeping what it leaves unconsumed), the peer's EOF, and wakes. The write side is
// in output.cpp, the state machine in state.cpp, dialling in dial.cpp.
#include "connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "address.hpp"
#include "guard.hpp"

namespace evloop::detail {

Connection::Connection(Loop& loop, int fd, int addr_index)
    : loop_(loop), fd_(fd), addr_index_(addr_index), generation_(loop.shared().new_generation()) {}

Connection::~Connection() {
    // Every way out closes through close_conn() or detach_now(); this is only the
    // backstop for a loop that is torn down with connections still on it.
    if (state_ != State::closed && fd_ >= 0) ::close(fd_);
}

Connection::Extra& Connection::extra() {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return *extra_;
}

std::any& Connection::context() {
    return extra().context;
}

common::Scheme Connection::scheme() const {
    if (addr_index_ < 0) return extra_ ? extra_->scheme : common::Scheme::tcp;
    return loop_.shared().addresses[static_cast<std::size_t>(addr_index_)].scheme;
}

SocketAddress Connection::local() const {
    if (extra_ && !extra_->local.empty()) return extra_->local.get(scheme());
    if (addr_index_ >= 0) return loop_.shared().bound[static_cast<std::size_t>(addr_index_)];
    return {};
}

SocketAddress Connection::remote() const {
    return remote_.get(scheme());
}

void adopt(Loop& loop, int fd, int addr_index, const sockaddr_storage& peer, socklen_t peer_len) {
    if (loop.stopping()) {
        ::close(fd);
        loop.load.fetch_sub(1);
        loop.shared().release_conn();
        return;
    }
    Connection* c = loop.conns().insert(std::make_unique<Connection>(loop, fd, addr_index));
    c->open_accepted(peer, peer_len);
}

void Connection::open_accepted(const sockaddr_storage& peer, socklen_t peer_len) {
    remote_.set(peer, peer_len);
    // A wildcard listener (0.0.0.0, ::) accepts on whichever local address the client
    // chose; only then is the local address worth a getsockname() of its own.
    if (is_wildcard(loop_.shared().addresses[static_cast<std::size_t>(addr_index_)])) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) extra().local.set(ss, len);
    }
    loop_.trace("loop %d: fd %d opened", loop_.index(), fd_);
    // Watched for reading at once, what almost every connection wants first: settle()
    // then finds nothing to change, and an accept costs one registration call.
    if (int err = loop_.watch(fd_, kReadable, this)) {
        warn_limited("watch", std::string("evloop: cannot watch a new connection: ") + std::strerror(err));
        close_conn(err, true);
        return;
    }
    begin();
}

// Both ways in end here: the connection is open, the application hears of it.
void Connection::begin() {
    state_ = State::open;
    last_active_ = loop_.now();
    const Events& ev = loop_.shared().events;
    ConnOptions options;
    Action action = Action::none;
    if (ev.opened) action = invoke(ev.opened, options);
    apply_options(options);
    arm_idle_timer();
    settle(action);
}

void Connection::apply_options(const ConnOptions& options) {
    pause_on_high_ = options.pause_on_high_water;
    if (!pause_on_high_) throttled_ = false;  // a greeting written in opened may have set it
    int family = remote_.family();
    if (family != AF_INET && family != AF_INET6) return;
    int one = 1;
    if (options.tcp_nodelay) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (options.tcp_keepalive.count() > 0) {
        int idle = static_cast<int>(std::min<long long>(options.tcp_keepalive.count(), 32767));
        ::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#if defined(TCP_KEEPIDLE)
        ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
#elif defined(TCP_KEEPALIVE)
        ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPALIVE, &idle, sizeof idle);
#endif
    }
}

// ANCHOR: on-event
void Connection::on_event(const PollEvent& event) {
    if (state_ == State::connecting) return finish_connecting(event.error);
    // Read before write, as Redis's ae does: a reply produced by this read can then leave
    // in the same turn. The interest is looked up again before each step because the
    // step before may have changed it (or closed the connection).
    if (event.readable && (loop_.interest(fd_) & kReadable)) on_readable();
    if (state_ != State::closed && event.writable && (loop_.interest(fd_) & kWritable)) on_writable();
    if (state_ != State::closed && event.hangup && !(loop_.interest(fd_) & kReadable)) on_hangup(event.error);
}
// ANCHOR_END: on-event

// Stage 03's on_writable: the kernel has room again, so send what is queued.
void Connection::on_writable() {
    flush();
    settle();
}

// A hangup while we are not reading (half-closed and waiting for the application,
// paused, or draining output). A failed socket closes now; an orderly one (both sides
// have sent their FIN) would be reported on every wait, so it leaves the poller until
// the connection wants something again.
void Connection::on_hangup(int error) {
    int err = error;
    socklen_t len = sizeof err;
    if (err == 0) ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return close_conn(err, true);
    loop_.mute(fd_);
}

// ANCHOR: on-readable
void Connection::on_readable() {
    if (state_ == State::closing || state_ == State::lingering) return discard_input();
    // One read path: new bytes land behind any kept input, or, with nothing kept, in the
    // loop's shared buffer, where the application reads them without a copy.
    std::size_t spilled = 0;
    long n = input_.read_from(fd_, loop_.read_buffer(), loop_.read_buffer_size(), &spilled);
    loop_.trace("loop %d: fd %d read -> %ld", loop_.index(), fd_, n);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(errno, true);
        return;
    }
    if (n == 0) return on_eof();
    last_active_ = loop_.now();
    std::string_view fresh(loop_.read_buffer(), spilled);
    if (input_.empty()) return deliver(fresh, true);
    input_.append(fresh);
    deliver(input_.view(), false);
}
// ANCHOR_END: on-readable

// ANCHOR: deliver
void Connection::deliver(std::string_view in, bool from_spill) {
    const Events& ev = loop_.shared().events;
    keep_ = 0;
    Action action = ev.data ? invoke(ev.data, in) : Action::none;
    std::size_t kept = std::min(keep_, in.size());
    keep_ = 0;
    // What the application kept stays for the next data event: copied out of the loop's
    // buffer (which the next read reuses), or left where it already is.
    if (from_spill) {
        input_.append(in.substr(in.size() - kept));
    } else {
        input_.consume(in.size() - kept);
        input_.shrink_if_idle();
    }
    std::size_t bound = loop_.shared().options.max_input;
    if (bound > 0 && input_.size() > bound) {
        loop_.trace("loop %d: fd %d keeps %zu bytes, over max_input", loop_.index(), fd_, input_.size());
        input_.release();
        request_close(EMSGSIZE);
    }
    settle(action);
}
// ANCHOR_END: deliver

void Connection::run_app(const std::function<void(Conn)>& fn) {
    invoke(fn);
}

void Connection::wake() {
    if (state_ != State::open && state_ != State::shutting && state_ != State::write_shut &&
        state_ != State::half_closed)
        return;
    deliver(input_.view(), false);
}

// Closing or lingering: the application has said its last word, but input that stays
// unread would turn close(2) into a reset, so it is read and dropped.
void Connection::discard_input() {
    long n;
    do {
        n = ::read(fd_, loop_.read_buffer(), loop_.read_buffer_size());
    } while (n < 0 && errno == EINTR);
    loop_.trace("loop %d: fd %d discard -> %ld", loop_.index(), fd_, n);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(errno, true);
        return;
    }
    if (n == 0) peer_eof_ = true;
    settle();
}

void Connection::on_eof() {
    peer_eof_ = true;
    loop_.trace("loop %d: fd %d eof", loop_.index(), fd_);
    const Events& ev = loop_.shared().events;
    if (state_ == State::open && !ev.eof && input_.empty())
        return settle(Action::close);  // flush, FIN, close
    if (state_ == State::open) enter(State::half_closed);
    // Nothing new will arrive, but what the application kept may hold whole messages it
    // had not got to: it is presented once more, and stays for wakes, until the close.
    if (!input_.empty()) deliver(input_.view(), false);
    if (state_ == State::closed) return;
    if (!ev.eof) return settle(Action::close);  // nobody to reply: flush, FIN, close
    Action action = invoke(ev.eof);
    // After shutdown_write() both directions are now done: nothing is left to wait for.
    if (state_ == State::shutting || state_ == State::write_shut) request_close(reason_);
    settle(action);
}

// Action::detach, once output has been flushed: the socket is handed over, blocking.
void Connection::detach_now() {
    state_ = State::closed;
    release();
    set_nonblocking(fd_, false);
    loop_.trace("loop %d: fd %d detached", loop_.index(), fd_);
    invoke(loop_.shared().events.detached, fd_);
    loop_.conns().release(fd_);
}

}  // namespace evloop::detail
