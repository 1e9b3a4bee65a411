// Conn, the face of a connection (or of one UDP datagram) inside a callback. Each call
// on a stream connection is made on the loop's thread; touch() makes sure a connection
// other than the one whose callback is running gets its output sent afterwards.
#include <utility>

#include "connection.hpp"
#include "udp.hpp"

namespace evloop {

using detail::Connection;

void Conn::write(std::string_view bytes) {
    if (d_) return d_->write(bytes);
    c_->write(bytes);
    c_->touch();
}

void Conn::keep(std::size_t n) {
    if (c_) c_->keep(n);
}

void Conn::close() {
    if (!c_) return;
    c_->request_close();
    c_->touch();
}

void Conn::shutdown_write() {
    if (!c_) return;
    c_->shutdown_write();
    c_->touch();
}

void Conn::reset() {
    if (!c_) return;
    c_->reset();
    c_->touch();
}

void Conn::pause() {
    if (!c_) return;
    c_->set_paused(true);
    c_->touch();
}

void Conn::resume() {
    if (!c_) return;
    c_->set_paused(false);
    c_->touch();
}

std::any& Conn::context() {
    return d_ ? d_->context() : c_->context();
}
int Conn::addr_index() const {
    return d_ ? d_->addr_index() : c_->addr_index();
}
int Conn::loop_index() const {
    return d_ ? d_->loop().index() : c_->loop().index();
}
bool Conn::is_udp() const {
    return d_ != nullptr;
}
bool Conn::is_dialed() const {
    return c_ && c_->addr_index() < 0;
}
int Conn::fd() const {
    return d_ ? d_->fd() : c_->fd();
}
SocketAddress Conn::local_addr() const {
    return d_ ? d_->local() : c_->local();
}
SocketAddress Conn::remote_addr() const {
    return d_ ? d_->remote() : c_->remote();
}
std::size_t Conn::pending_output() const {
    return c_ ? c_->pending() : 0;
}

Handle Conn::handle() const {
    Handle h;
    if (!c_ || !c_->is_open()) return h;
    h.mailbox_ = c_->loop().mailbox();
    h.remote_ = c_->remote_state();
    h.fd_ = c_->fd();
    h.generation_ = c_->generation();
    return h;
}

std::uint64_t Conn::after(Duration delay, std::function<void(Conn)> fn) {
    return c_ ? c_->add_app_timer(delay, std::move(fn)) : 0;
}

bool Conn::cancel_timer(std::uint64_t id) {
    return c_ && c_->cancel_app_timer(id);
}

Error Conn::dial(const std::string& url, DialOptions options) {
    std::string why;
    auto target = common::parse_address(url, &why);
    if (!target) return Error{EINVAL, "cannot dial '" + url + "': " + why};
    if (!target->is_stream()) return Error{EPROTONOSUPPORT, "cannot dial " + url + ": only stream addresses"};
    if (!target->is_unix() && target->port == 0) return Error{EINVAL, "cannot dial " + url + ": port 0"};
    detail::Loop& loop = d_ ? d_->loop() : c_->loop();
    detail::dial(loop, *target, std::move(options));
    return {};
}

}  // namespace evloop
