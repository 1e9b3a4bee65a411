// libevent-echo: the echo server a libevent user would write, as a yardstick for the stages.
//
// Idiomatic libevent: an evconnlistener accepts, a bufferevent per connection reads and
// writes, and the read callback moves the whole input buffer to the output buffer
// (evbuffer_add_buffer relinks the chains, it copies nothing). As in the stages,
// reading stops while more than kHighWater bytes wait to be written and resumes once
// the output falls to kLowWater (a write watermark), and a half-close flushes what is
// pending before the connection closes. The socket comes from common::listen_on, so
// every server in the benchmark has the same backlog and options.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <unistd.h>

#include <cstdio>

#include "common/cli.hpp"
#include "common/listen.hpp"
#include "common/process.hpp"

namespace {

constexpr std::size_t kHighWater = 1024 * 1024;  // stop reading above this much pending output
constexpr std::size_t kLowWater = 256 * 1024;    // resume below this

// The callback argument doubles as the connection's only state: whether the peer has
// half-closed. That spares an allocation per connection.
event_base* g_base;

char peer_closed_mark;
void* const kPeerClosed = &peer_closed_mark;

void on_read(bufferevent* bev, void*);
void on_write(bufferevent* bev, void* arg);
void on_event(bufferevent* bev, short what, void* arg);

void on_read(bufferevent* bev, void*) {
    evbuffer* out = bufferevent_get_output(bev);
    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) > kHighWater) {
        bufferevent_disable(bev, EV_READ);
        bufferevent_setwatermark(bev, EV_WRITE, kLowWater, 0);  // on_write once it falls that low
    }
}

// Runs when the output has drained to the write watermark.
void on_write(bufferevent* bev, void* arg) {
    if (arg == kPeerClosed) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) bufferevent_free(bev);
        return;
    }
    if (!(bufferevent_get_enabled(bev) & EV_READ)) {
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        bufferevent_enable(bev, EV_READ);
    }
}

void on_event(bufferevent* bev, short what, void*) {
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        // Half-close: flush what is pending, then close (our FIN follows the last byte).
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) return bufferevent_free(bev);
        bufferevent_setcb(bev, on_read, on_write, on_event, kPeerClosed);
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) bufferevent_free(bev);
}

void on_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr*, int, void*) {
    event_base* base = evconnlistener_get_base(listener);
    bufferevent* bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        ::close(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, on_write, on_event, nullptr);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void on_stop(evutil_socket_t, short, void* base) {
    event_base_loopbreak(static_cast<event_base*>(base));
}

}  // namespace

int main(int argc, char** argv) {
    common::CliSpec spec{
        "libevent-echo", "echo server written with libevent, for the benchmarks", false, false, {}};
    common::Cli cli = common::parse_cli(argc, argv, spec);
    const common::Address& address = cli.listen.front();
    if (!address.is_stream()) {
        std::fprintf(stderr, "libevent-echo: only tcp and unix addresses\n%s", common::usage(spec).c_str());
        return 2;
    }
    common::install_signal_handlers("libevent-echo");
    std::string error;
    common::Fd fd = common::listen_on(address, {.nonblocking = true}, &error);
    if (!fd) common::die(error, 0);
    const std::string url = common::local_url(fd.get(), address);

    event_base* base = g_base = event_base_new();
    if (!base) common::die("event_base_new failed", 0);
    evconnlistener* listener = evconnlistener_new(
        base, on_accept, nullptr, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd.get());
    if (!listener) common::die("evconnlistener_new failed", 0);
    fd.release();  // the listener owns it now
    event* stop = event_new(base, common::stop_fd(), EV_READ, on_stop, base);
    event_add(stop, nullptr);
    common::announce_listening(url);

    event_base_dispatch(base);
    evconnlistener_free(listener);
    event_free(stop);
    if (address.is_unix()) ::unlink(address.path.c_str());
    // Connections still open are left to exit: the kernel closes their sockets, and they
    // stay reachable from the base (a global), so leak checkers do not count them.
    return 0;
}
