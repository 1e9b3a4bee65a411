// Dialling out: a non-blocking connect(2) whose outcome is an event. Nothing here blocks
// the loop: the address is numeric (the listen grammar refuses names, and so does this),
// the connect returns at once with EINPROGRESS, and the loop learns the result when the
// socket becomes writable: SO_ERROR is then 0 for a connection and the reason otherwise
// (connect(2), "EINPROGRESS"). A dialled connection then lives like an accepted one.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "address.hpp"
#include "connection.hpp"
#include "guard.hpp"

namespace evloop::detail {
namespace {

// A failure known at once still reaches the application as an event, from the loop,
// never from inside the call that dialled.
void fail_later(Loop& loop, const common::Address& target, std::any context, int error) {
    std::string url = target.url();
    loop.trace("loop %d: dial %s failed: %d", loop.index(), url.c_str(), error);
    loop.timers().add(loop.now(), [&loop, url, context = std::move(context), error]() mutable {
        const Events& ev = loop.shared().events;
        if (ev.dial_failed) guarded(loop.shared(), nullptr, ev.dial_failed, url, context, error);
        loop.run_deferred();
    });
}

}  // namespace

void dial(Loop& loop, const common::Address& target, DialOptions options) {
    if (loop.stopping()) return fail_later(loop, target, std::move(options.context), ECANCELED);
    int fd = make_socket(target.family(), SOCK_STREAM);
    if (fd < 0) return fail_later(loop, target, std::move(options.context), errno);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&target.storage), target.length);
    int err = rc == 0 ? 0 : errno;
    // EINPROGRESS (TCP) or EINTR: the connect goes on in the kernel. A unix socket
    // connects at once or fails at once (EAGAIN there means the listener's backlog is full).
    if (err != 0 && err != EINPROGRESS && err != EINTR) {
        ::close(fd);
        return fail_later(loop, target, std::move(options.context), err);
    }
    Connection* c = loop.conns().insert(std::make_unique<Connection>(loop, fd, -1));
    c->start_connecting(target, std::move(options));
}

void Connection::start_connecting(const common::Address& target, DialOptions options) {
    state_ = State::connecting;
    remote_.set(target.storage, target.length);
    Extra& e = extra();
    e.scheme = target.scheme;
    e.context = std::move(options.context);
    loop_.trace("loop %d: fd %d connecting to %s", loop_.index(), fd_, target.url().c_str());
    if (int err = loop_.watch(fd_, kWritable, this)) return fail_dial(err);
    state_timer_ = loop_.timers().add(deadline(loop_.now(), options.timeout), [this] {
        state_timer_ = 0;
        fail_dial(ETIMEDOUT);
    });
}

void Connection::finish_connecting(int error) {
    int err = error;
    socklen_t len = sizeof err;
    if (err == 0 && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return fail_dial(err);
    if (state_timer_) loop_.timers().cancel(std::exchange(state_timer_, 0));
    sockaddr_storage ss{};
    socklen_t ss_len = sizeof ss;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &ss_len) == 0) extra().local.set(ss, ss_len);
    loop_.trace("loop %d: fd %d connected", loop_.index(), fd_);
    // From "waiting for writable" to nothing, so that the first write goes straight out.
    if (int werr = loop_.modify(fd_, kNone)) return fail_dial(werr);
    begin();
}

void Connection::fail_dial(int error) {
    loop_.trace("loop %d: fd %d dial failed: %d", loop_.index(), fd_, error);
    state_ = State::closed;
    release();
    ::close(fd_);
    const Events& ev = loop_.shared().events;
    if (ev.dial_failed)
        guarded(loop_.shared(), nullptr, ev.dial_failed, remote().url, extra().context, error);
    loop_.conns().release(fd_);
}

}  // namespace evloop::detail
