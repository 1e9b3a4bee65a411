#include "connection.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/process.hpp"
#include "session.hpp"

namespace redis {
namespace {

// What a connection keeps between events: the protocol state, and whether reading is
// paused until its replies drain.
struct ConnState {
    explicit ConnState(Server& s) : session(s) {}
    Session session;
    bool paused = false;
};

using StatePtr = std::shared_ptr<ConnState>;  // std::any needs a copyable type

ConnState& state(evloop::Conn c) {
    return **std::any_cast<StatePtr>(&c.context());
}

// One batch per loop thread: a connection's replies are gathered here and written once,
// so the string's memory is reused by every connection the loop serves.
std::string& batch() {
    thread_local std::string out;
    return out;
}

// With several loops the keyspace is shared; with one (the default, as in Redis) the lock
// is never taken.
class MaybeLock {
public:
    MaybeLock(std::mutex& m, bool needed) {
        if (needed) lock_.emplace(m);
    }

private:
    std::optional<std::unique_lock<std::mutex>> lock_;
};

struct Shared {
    Shared(Server& s, const ServeOptions& o) : server(s), options(o) {}
    Server& server;
    ServeOptions options;
    std::mutex keyspace_mutex;
};

// ANCHOR: data
evloop::Action on_data(Shared& shared, evloop::Conn c, std::string_view in) {
    ConnState& st = state(c);
    const bool was_paused = std::exchange(st.paused, false);
    std::string& out = batch();
    out.clear();
    for (;;) {
        Session::Result r;
        {
            MaybeLock lock(shared.keyspace_mutex, shared.options.loops != 1);
            r = st.session.feed(in, out, shared.options.batch_budget);
        }
        auto [consumed, next] = r;
        in.remove_prefix(consumed);
        if (next == Session::Next::close) {
            c.write(out);
            return evloop::Action::close;
        }
        if (next == Session::Next::more_input) break;
        // A read full of requests for large values: send what is ready, and go on only
        // while the peer keeps up. Otherwise stop reading until its replies drain (to the
        // low water mark, when `drained` fires); the requests not yet run wait in the
        // kept input.
        c.write(out);
        out.clear();
        if (c.pending_output() > shared.options.low_water) {
            st.paused = true;
            break;
        }
    }
    c.write(out);  // every reply of this read, in one write
    c.keep(in.size());
    // Reading stays off until every kept request is answered: reading on could find the
    // peer's FIN, and then the library presents the kept input once more and closes (there
    // is no eof callback), leaving what is still kept behind a pause unanswered.
    if (st.paused && !was_paused) c.pause();
    if (!st.paused && was_paused) c.resume();
    if (out.capacity() > (4u << 20)) out = std::string();  // one huge reply does not pin memory
    return evloop::Action::none;
}
// ANCHOR_END: data

}  // namespace

evloop::Events make_events(Server& server, const ServeOptions& options) {
    auto shared = std::make_shared<Shared>(server, options);
    evloop::Events ev;
    ev.serving = [shared](const evloop::ServerInfo& info) {
        shared->server.listening = info.addrs.empty() ? "" : info.addrs[0];
        for (const auto& url : info.addrs)
            common::announce_listening(url);
        return evloop::Action::none;
    };
    ev.opened = [shared](evloop::Conn c, evloop::ConnOptions&) {
        c.context() = std::make_shared<ConnState>(shared->server);
        shared->server.clients.fetch_add(1, std::memory_order_relaxed);
        shared->server.connections_total.fetch_add(1, std::memory_order_relaxed);
        return evloop::Action::none;
    };
    ev.closed = [shared](evloop::Conn, int) {
        shared->server.clients.fetch_sub(1, std::memory_order_relaxed);
    };
    ev.data = [shared](evloop::Conn c, std::string_view in) { return on_data(*shared, c, in); };
    // The paused client has read enough of its replies: a wake is a data event with no
    // new bytes, which presents its kept requests again.
    ev.drained = [](evloop::Conn c) {
        if (state(c).paused) c.handle().wake();
    };
    // Redis's active expiry runs ten times a second; here it gets at most 1 ms of each tick,
    // so a keyspace full of expired keys costs other clients little latency.
    ev.tick = [shared](evloop::Duration& delay) {
        delay = std::chrono::milliseconds(100);
        MaybeLock lock(shared->keyspace_mutex, shared->options.loops != 1);
        shared->server.keyspace.set_now(shared->server.clock());
        shared->server.keyspace.expire_cycle(std::chrono::milliseconds(1));
        return evloop::Action::none;
    };
    return ev;
}

}  // namespace redis
