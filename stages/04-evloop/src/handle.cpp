// Handle, the way in from any thread: each call is posted to the connection's loop and
// runs there if the connection is still the one the handle was made for.
#include <utility>

#include "connection.hpp"

namespace evloop {

using detail::Connection;
using detail::Loop;

// ANCHOR: handle
namespace {

// Runs fn on the connection's loop if it is still the same connection, then settles it.
bool post(const std::shared_ptr<detail::Mailbox>& mailbox, const std::shared_ptr<detail::Remote>& remote,
          int fd, std::uint64_t generation, std::function<void(Connection&)> fn) {
    if (!mailbox || (remote && remote->closed.load())) return false;
    return mailbox->post([fd, generation, fn = std::move(fn)](Loop& loop) {
        Connection* c = loop.conns().find(fd, generation);
        if (!c || !c->is_open()) return;
        Connection* outer = loop.set_active(c);
        fn(*c);
        loop.set_active(outer);
        c->settle();
    });
}

}  // namespace

bool Handle::wake() const {
    return post(mailbox_, remote_, fd_, generation_, [](Connection& c) { c.wake(); });
}

bool Handle::write(std::string bytes) const {
    if (!mailbox_ || (remote_ && remote_->closed.load())) return false;
    std::size_t n = bytes.size();
    auto remote = remote_;
    if (remote && remote->limit > 0) {
        // The same bound as writes on the loop: what is queued there plus what is still
        // in the mailbox. Past it, the connection is a reader that cannot keep up.
        std::size_t queued = remote->queued.fetch_add(n) + n;
        if (queued + remote->pending.load(std::memory_order_relaxed) > remote->limit) {
            remote->queued.fetch_sub(n);
            post(mailbox_, remote_, fd_, generation_, [](Connection& c) { c.fail(ENOBUFS); });
            return false;
        }
    }
    // The count goes down when the task runs or is dropped, whichever comes first.
    struct Counted {
        std::shared_ptr<detail::Remote> remote;
        std::size_t n;
        ~Counted() {
            if (remote) remote->queued.fetch_sub(n);
        }
    };
    auto counted = std::shared_ptr<Counted>(new Counted{remote, n});
    return post(mailbox_, remote_, fd_, generation_,
                [counted, b = std::move(bytes)](Connection& c) { c.write(b); });
}

bool Handle::close() const {
    return post(mailbox_, remote_, fd_, generation_, [](Connection& c) { c.request_close(); });
}

bool Handle::run(std::function<void(Conn)> fn) const {
    return post(mailbox_, remote_, fd_, generation_, [fn = std::move(fn)](Connection& c) { c.run_app(fn); });
}
// ANCHOR_END: handle

std::optional<Conn> Handle::here() const {
    Loop* loop = Loop::current();
    if (!loop || !mailbox_ || loop->mailbox() != mailbox_) return std::nullopt;
    Connection* c = loop->conns().find(fd_, generation_);
    if (!c || !c->is_open()) return std::nullopt;
    return Conn(c);
}

}  // namespace evloop
