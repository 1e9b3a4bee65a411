// The public faces of a connection: Conn (on the loop thread) and Handle (anywhere).
#include <utility>

#include "connection.hpp"

namespace evloop {

using detail::Connection;
using detail::Loop;

void Conn::write(std::string_view bytes) {
    c_->write(bytes);
}
void Conn::close() {
    c_->request_close();
}
std::any& Conn::context() {
    return c_->context();
}
int Conn::addr_index() const {
    return c_->addr_index();
}
int Conn::loop_index() const {
    return c_->loop().index();
}
bool Conn::is_udp() const {
    return c_->udp();
}
int Conn::fd() const {
    return c_->fd();
}
const SocketAddress& Conn::local_addr() const {
    return c_->local();
}
const SocketAddress& Conn::remote_addr() const {
    return c_->remote();
}
std::size_t Conn::pending_output() const {
    return c_->pending();
}

Handle Conn::handle() const {
    Handle h;
    if (c_->udp()) return h;
    h.mailbox_ = c_->loop().mailbox();
    h.fd_ = c_->fd();
    h.generation_ = c_->generation();
    return h;
}

std::uint64_t Conn::after(Duration delay, std::function<void(Conn)> fn) {
    if (c_->udp() || !c_->is_open()) return 0;
    Loop& loop = c_->loop();
    int fd = c_->fd();
    std::uint64_t generation = c_->generation();
    // Looked up again when it fires: by then the connection may be gone, its fd reused.
    auto when = detail::TimerQueue::Clock::now() + delay;
    return loop.timers().add(when, [&loop, fd, generation, fn = std::move(fn)] {
        if (Connection* c = loop.find(fd, generation)) {
            fn(Conn(c));
            c->after_app_call();
        }
    });
}

void Conn::cancel_timer(std::uint64_t id) {
    c_->loop().timers().cancel(id);
}

// ANCHOR: handle
namespace {

// Runs `fn` on the connection's loop if it is still the same connection.
bool post(const std::shared_ptr<detail::Mailbox>& mailbox, int fd, std::uint64_t generation,
          std::function<void(Connection&)> fn) {
    if (!mailbox) return false;
    return mailbox->post([fd, generation, fn = std::move(fn)](Loop& loop) {
        if (Connection* c = loop.find(fd, generation)) {
            fn(*c);
            c->after_app_call();
        }
    });
}

}  // namespace

bool Handle::wake() const {
    return post(mailbox_, fd_, generation_, [](Connection& c) { c.wake(); });
}

bool Handle::write(std::string bytes) const {
    return post(mailbox_, fd_, generation_, [b = std::move(bytes)](Connection& c) { c.write(b); });
}

bool Handle::close() const {
    return post(mailbox_, fd_, generation_, [](Connection& c) { c.request_close(); });
}

bool Handle::run(std::function<void(Conn)> fn) const {
    return post(mailbox_, fd_, generation_, [fn = std::move(fn)](Connection& c) { fn(Conn(&c)); });
}
// ANCHOR_END: handle

}  // namespace evloop
