// stage04-proxy's relay: one callback per lesson (relay.hpp has the picture). Both sides
// of a pair live on one loop, so each reaches the other through Handle::here() with no
// lock and no mailbox; what a callback does to the other side (a write, a pause) is
// settled by the library, its output sent and its interest changed, once the callback returns.
#include "relay.hpp"

#include <any>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/process.hpp"

namespace proxy {
namespace {

using evloop::Action;
using evloop::Conn;
using Clock = std::chrono::steady_clock;

// Each side's context: the way to the other side, and whether it stopped reading for it.
struct Side {
    evloop::Handle peer;          // for a client, empty until its backend has connected
    bool held = false;            // not reading: the peer's output is above high water
    Clock::time_point give_up{};  // a client's: retries of a dial that found no descriptor end here
};

Side& side(Conn c) {
    return std::any_cast<Side&>(c.context());
}

// Out of descriptors (or kernel memory) says nothing about the backend: it is this
// process's state, and it passes as other pairs close. The client waits for it, paused,
// and the dial is tried again a little later, as the acceptor itself does with EMFILE.
bool out_of_resources(int error) {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}
constexpr auto kRetry = std::chrono::milliseconds(50);

class Relay : public std::enable_shared_from_this<Relay> {
public:
    explicit Relay(RelayOptions options) : options_(std::move(options)) {}

    // ANCHOR: relay-opened
    Action opened(Conn c, evloop::ConnOptions& conn_options) {
        // Each side's reading follows the other side's output (data() below), not its own:
        // were a side that does not read to stop its own reading too, it would stop the
        // direction that still flows (a download held up by an upload nobody reads).
        conn_options.pause_on_high_water = false;
        if (!c.is_dialed()) {
            // A new client. Nothing is read from it until its backend can take the bytes:
            // until then they wait in the kernel's receive buffer, which bounds them.
            c.context() = Side{{}, false, Clock::now() + options_.connect_timeout};
            c.pause();
            dial(c);
            return Action::none;
        }
        // The backend answered: pair the two, and start reading the client.
        auto client = side(c).peer.here();
        if (!client) return Action::close;  // the client left while the backend was connecting
        side(*client).peer = c.handle();
        client->resume();
        common::trace("relay: client fd %d paired with backend fd %d", client->fd(), c.fd());
        return Action::none;
    }
    // ANCHOR_END: relay-opened

    // ANCHOR: relay-data
    Action data(Conn c, std::string_view in) {
        auto peer = side(c).peer.here();
        if (!peer) return Action::none;  // the other side is gone, and closed() is ending this one
        peer->write(in);                 // sent at once when nothing is queued there
        if (peer->pending_output() > options_.high_water) {
            // The other side takes bytes more slowly than this one gives them: stop reading
            // here until drained() says the other side's output is down at low water.
            side(c).held = true;
            c.pause();
            common::trace("relay: fd %d paused: fd %d holds %zu bytes", c.fd(), peer->fd(),
                          peer->pending_output());
        }
        return Action::none;
    }

    void drained(Conn c) {
        auto peer = side(c).peer.here();
        if (!peer || !side(*peer).held) return;
        side(*peer).held = false;
        peer->resume();
        common::trace("relay: fd %d resumed: fd %d is down to %zu bytes", peer->fd(), c.fd(),
                      c.pending_output());
    }
    // ANCHOR_END: relay-data

    // ANCHOR: relay-endings
    Action eof(Conn c) {
        auto peer = side(c).peer.here();
        if (!peer) return Action::close;
        // This side has finished sending, so the relay finishes sending to the other, once
        // what is queued there has gone. This side stays open for what comes back: when the
        // other side's FIN arrives too, the same call here closes the pair.
        peer->shutdown_write();
        common::trace("relay: fd %d eof: fd %d shuts its write side after %zu bytes", c.fd(), peer->fd(),
                      peer->pending_output());
        return Action::none;
    }

    void closed(Conn c, int error) {
        auto peer = side(c).peer.here();
        if (!peer) return;
        // An orderly end (0) closes the other side once its output is sent. Anything else
        // (a reset, a broken pipe, a timeout, the server's stop running out of time) means
        // this stream ended short, and only a reset tells the far end so.
        common::trace("relay: fd %d closed (%s): %s fd %d", c.fd(),
                      error ? common::errno_name(error) : "orderly", error ? "resetting" : "closing",
                      peer->fd());
        if (error == 0)
            peer->close();
        else
            peer->reset();
    }
    // ANCHOR_END: relay-endings

    // ANCHOR: relay-dial-failed
    void dial_failed(const std::string& url, std::any& context, int error) {
        auto client = std::any_cast<Side&>(context).peer.here();
        if (!client) return;                                   // the client left first
        if (error == ECANCELED) return void(client->close());  // the server is stopping
        if (out_of_resources(error) && Clock::now() < side(*client).give_up) {
            common::warn_limited("dial-wait", "cannot connect to " + url + ": " + std::strerror(error) +
                                                  ": new clients wait until other connections close");
            client->after(kRetry, [self = shared_from_this()](Conn c) { self->dial(c); });
            return;
        }
        common::warn_limited("dial", "cannot connect to " + url + ": " + std::strerror(error) +
                                         "; closing the client from " + client->remote_addr().url);
        client->close();
    }
    // ANCHOR_END: relay-dial-failed

private:
    void dial(Conn client) {
        evloop::Error e =
            client.dial(options_.to, {.timeout = options_.connect_timeout, .context = Side{client.handle()}});
        if (e) {  // main() checked the URL, so this is not expected; the client must not hang
            common::warn_limited("dial", e.message);
            client.close();
        }
    }

    RelayOptions options_;
};

}  // namespace

evloop::Events relay_events(const RelayOptions& options) {
    auto relay = std::make_shared<Relay>(options);
    evloop::Events ev;
    ev.opened = [relay](Conn c, evloop::ConnOptions& o) { return relay->opened(c, o); };
    ev.data = [relay](Conn c, std::string_view in) { return relay->data(c, in); };
    ev.drained = [relay](Conn c) { relay->drained(c); };
    ev.eof = [relay](Conn c) { return relay->eof(c); };
    ev.closed = [relay](Conn c, int error) { relay->closed(c, error); };
    ev.dial_failed = [relay](const std::string& url, std::any& context, int error) {
        relay->dial_failed(url, context, error);
    };
    return ev;
}

}  // namespace proxy
