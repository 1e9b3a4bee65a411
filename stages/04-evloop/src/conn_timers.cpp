// A connection's timers: the idle timeout, and the application's own (Conn::after),
// which live exactly as long as the connection does. Also the state a Handle shares.
#include <algorithm>

#include "connection.hpp"

namespace evloop::detail {

void Connection::arm_idle_timer() {
    Duration idle = loop_.shared().options.idle_timeout;
    if (idle.count() <= 0) return;
    idle_timer_ = loop_.timers().add(deadline(last_active_, idle), [this, idle] {
        idle_timer_ = 0;
        if (loop_.now() - last_active_ < idle) return arm_idle_timer();     // active since: later
        if (state_ != State::open && state_ != State::half_closed) return;  // already ending
        loop_.trace("loop %d: fd %d idle timeout", loop_.index(), fd_);
        request_close(ETIMEDOUT);
        settle();
    });
}

// close_timeout bounds an ending that makes no progress: a half-closed connection still
// sending (a long reply after the peer's FIN, a relay's download) lives on, one whose
// bytes no longer move is closed.
void Connection::arm_close_timer() {
    Duration bound = loop_.shared().options.close_timeout;
    state_timer_ = loop_.timers().add(deadline(last_active_, bound), [this, bound] {
        state_timer_ = 0;
        if (loop_.now() - last_active_ < bound) return arm_close_timer();  // progress since: later
        loop_.trace("loop %d: fd %d close timeout", loop_.index(), fd_);
        // A reset only where bytes would be lost; a half-closed connection with nothing
        // left to send just gets its FIN.
        close_conn(ETIMEDOUT, !output_.empty() || !peer_eof_);
    });
}

std::uint64_t Connection::add_app_timer(Duration delay, std::function<void(Conn)> fn) {
    if (!is_open()) return 0;
    std::uint64_t id = loop_.timers().next_id();
    extra().app_timers.push_back(id);
    loop_.timers().add(deadline(loop_.now(), delay), [this, id, fn = std::move(fn)] {
        auto& mine = extra_->app_timers;
        mine.erase(std::remove(mine.begin(), mine.end(), id), mine.end());
        invoke(fn);
        settle();
    });
    return id;
}

bool Connection::cancel_app_timer(std::uint64_t id) {
    if (!extra_) return false;
    auto& mine = extra_->app_timers;
    auto it = std::find(mine.begin(), mine.end(), id);
    if (it == mine.end()) return false;
    mine.erase(it);
    return loop_.timers().cancel(id);
}

std::shared_ptr<Remote> Connection::remote_state() {
    Extra& e = extra();
    if (!e.remote) {
        e.remote = std::make_shared<Remote>();
        e.remote->limit = loop_.shared().options.max_output;
        e.remote->pending.store(output_.size(), std::memory_order_relaxed);
    }
    return e.remote;
}

}  // namespace evloop::detail
