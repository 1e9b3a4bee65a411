// A stream connection's life on its loop: opening, reading, the peer's EOF, wakes,
// timeouts, and the two ways out (close and detach). Output is in output.cpp.
#include "connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "address.hpp"

namespace evloop::detail {
namespace {

int socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
}

}  // namespace

Connection::Connection(Loop& loop, int fd, int addr_index, std::uint64_t generation, SocketAddress remote,
                       bool udp)
    : loop_(loop),
      fd_(fd),
      addr_index_(addr_index),
      generation_(generation),
      remote_(std::move(remote)),
      udp_(udp) {
    open_ = udp;  // a UDP stand-in is always open: it only collects replies
}

Connection::~Connection() {
    // Every path closes through close_now() or detach_now(); this is only a backstop.
    if (open_ && !udp_ && fd_ >= 0) ::close(fd_);
}

const SocketAddress& Connection::local() {
    if (!have_local_ && fd_ >= 0) {
        local_ = local_address(fd_, loop_.shared().addresses[static_cast<std::size_t>(addr_index_)].scheme);
        have_local_ = true;
    }
    return local_;
}

void Connection::open() {
    open_ = true;
    last_active_ = loop_.now();
    const Events& ev = loop_.shared().events;
    ConnOptions options;
    Action action = ev.opened ? ev.opened(Conn(this), options) : Action::none;
    apply_options(options);
    if (int err = loop_.watch(fd_, kReadable, this)) {
        close_now(err);
        return;
    }
    interest_ = kReadable;
    arm_idle_timer();
    after_app_call(action);
}

void Connection::apply_options(const ConnOptions& options) {
    options_ = options;
    int family = loop_.shared().addresses[static_cast<std::size_t>(addr_index_)].family();
    if (family != AF_INET && family != AF_INET6) return;
    int one = 1;
    if (options.tcp_nodelay) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (options.tcp_keepalive.count() > 0) {
        int idle = static_cast<int>(options.tcp_keepalive.count());
        ::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
#if defined(TCP_KEEPIDLE)
        ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
#elif defined(TCP_KEEPALIVE)
        ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPALIVE, &idle, sizeof idle);
#endif
    }
}

void Connection::on_event(const PollEvent& event) {
    if (event.readable && (interest_ & kReadable)) on_readable();
    if (open_ && event.writable && !output_.empty()) after_app_call();
    // A hung-up socket we no longer read from and have nothing to write to would be
    // reported again on every wait (EPOLLHUP cannot be masked): close it now.
    if (open_ && event.hangup && !(interest_ & kReadable) && output_.empty()) close_now(socket_error(fd_));
}

void Connection::on_readable() {
    long n;
    const char* data;
    if (options_.reuse_input_buffer) {
        do {
            n = ::read(fd_, loop_.read_buffer(), loop_.read_buffer_size());
        } while (n < 0 && errno == EINTR);
        data = loop_.read_buffer();
    } else {
        input_.clear();
        n = input_.read_from(fd_);
        data = input_.data();
    }
    loop_.trace("loop %d: fd %d read -> %ld", loop_.index(), fd_, n);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) close_now(errno);
        return;
    }
    if (n == 0) {
        on_eof();
        return;
    }
    last_active_ = loop_.now();
    const Events& ev = loop_.shared().events;
    Action action =
        ev.data ? ev.data(Conn(this), std::string_view(data, static_cast<std::size_t>(n))) : Action::none;
    after_app_call(action);
}

void Connection::on_eof() {
    peer_eof_ = true;
    arm_close_timer();  // bounds the half-closed state, whoever ends it
    const Events& ev = loop_.shared().events;
    if (!ev.eof) {
        request_close();  // nobody to reply: flush, then our FIN
        after_app_call();
        return;
    }
    after_app_call(ev.eof(Conn(this)));
}

void Connection::wake() {
    if (!open_ || udp_) return;
    const Events& ev = loop_.shared().events;
    after_app_call(ev.data ? ev.data(Conn(this), std::string_view()) : Action::none);
}

bool Connection::udp_reply(std::string_view* reply) const {
    *reply = output_.view();
    return udp_wrote_;
}

void Connection::udp_reset() {
    output_.clear();
    udp_wrote_ = false;
}

void Connection::request_close() {
    if (ending_ == Ending::none) ending_ = Ending::close;
}

void Connection::begin_stop() {
    request_close();
    after_app_call();
}

void Connection::arm_idle_timer() {
    auto idle = loop_.shared().options.idle_timeout;
    if (idle.count() <= 0 || udp_) return;
    idle_timer_ = loop_.timers().add(last_active_ + idle, [this, idle] {
        idle_timer_ = 0;
        if (loop_.now() - last_active_ >= idle) {
            loop_.trace("loop %d: fd %d idle timeout", loop_.index(), fd_);
            close_now(ETIMEDOUT);
        } else {
            arm_idle_timer();
        }
    });
}

void Connection::arm_close_timer() {
    if (close_timer_ != 0) return;
    close_timer_ = loop_.timers().add(loop_.now() + loop_.shared().options.close_timeout, [this] {
        close_timer_ = 0;
        close_now(ETIMEDOUT);
    });
}

void Connection::unregister() {
    if (idle_timer_) loop_.timers().cancel(idle_timer_);
    if (close_timer_) loop_.timers().cancel(close_timer_);
    idle_timer_ = close_timer_ = 0;
    loop_.unwatch(fd_);
}

void Connection::close_now(int error) {
    if (!open_ || udp_) return;
    open_ = false;
    unregister();
    loop_.trace("loop %d: fd %d close (%d)", loop_.index(), fd_, error);
    int fd = fd_;
    ::close(fd);
    const Events& ev = loop_.shared().events;
    if (ev.closed) ev.closed(Conn(this), error);
    loop_.release(fd);
}

void Connection::detach_now() {
    open_ = false;
    unregister();
    int fd = fd_;
    set_nonblocking(fd, false);
    loop_.trace("loop %d: fd %d detached", loop_.index(), fd);
    loop_.shared().events.detached(Conn(this), fd);
    loop_.release(fd);
}

}  // namespace evloop::detail
