// libuv-echo: the echo server a libuv user would write, as a yardstick for the stages.
//
// Idiomatic libuv: uv_listen on the listener, uv_read_start with an allocation callback,
// uv_write for the echo, uv_shutdown once the peer has half-closed. Three things the
// textbook example (a malloc per read, a uv_write per chunk, no limit) leaves out, so
// that the comparison is fair:
//   - the fast path node.js takes: uv_try_write first, from one read buffer shared by the
//     loop, and only what the socket would not take is copied into a queued uv_write;
//   - reading stops while more than kHighWater bytes wait to be written, as in the
//     stages (--unbounded turns this off to show what a fire-hose does without it);
//   - SIGINT/SIGTERM end the loop cleanly, as the server contract asks.
// The socket comes from common::listen_on, so every server has the same backlog and options.
#include <uv.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/cli.hpp"
#include "common/listen.hpp"
#include "common/process.hpp"

namespace {

constexpr std::size_t kHighWater = 1024 * 1024;  // stop reading above this much pending output
constexpr std::size_t kLowWater = 256 * 1024;    // resume below this

struct Conn {
    union {  // both begin with the uv_stream_t fields, as libuv's own casts assume
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle;
    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
    bool is_pipe = false;
    bool reading = true;
    bool eof = false;
};

struct WriteReq {
    uv_write_t req;
    uv_buf_t buf;
};

uv_loop_t* loop;
bool unbounded = false;  // --unbounded: the textbook server, which never stops reading
uv_stream_t* listener;
bool listener_is_pipe;

void on_closed(uv_handle_t* handle) {
    delete static_cast<Conn*>(handle->data);
}

void close_conn(Conn* c) {
    auto* handle = reinterpret_cast<uv_handle_t*>(c->stream());
    if (!uv_is_closing(handle)) uv_close(handle, on_closed);
}

void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
    // One buffer for the whole loop: a read callback runs before the next read, and
    // on_read copies out whatever it cannot write at once. Idle connections own nothing.
    static char scratch[64 * 1024];
    *buf = uv_buf_init(scratch, sizeof scratch);
}

void on_shutdown(uv_shutdown_t* req, int) {
    close_conn(static_cast<Conn*>(req->handle->data));
    delete req;
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void on_written(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteReq*>(req);
    auto* c = static_cast<Conn*>(req->handle->data);
    std::free(w->buf.base);
    delete w;
    if (status < 0) return close_conn(c);
    if (!c->reading && !c->eof && uv_stream_get_write_queue_size(c->stream()) < kLowWater) {
        c->reading = true;
        uv_read_start(c->stream(), on_alloc, on_read);
    }
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(stream->data);
    if (nread <= 0) {
        if (nread == 0) return;  // EAGAIN
        if (nread != UV_EOF) return close_conn(c);
        // Half-close: uv_shutdown waits for the queued writes, then shuts down our side.
        c->eof = true;
        auto* req = new uv_shutdown_t;
        if (uv_shutdown(req, stream, on_shutdown) != 0) {
            delete req;
            close_conn(c);
        }
        return;
    }
    auto len = static_cast<std::size_t>(nread);
    std::size_t done = 0;
    if (uv_stream_get_write_queue_size(stream) == 0) {  // never overtake bytes already queued
        uv_buf_t data = uv_buf_init(buf->base, static_cast<unsigned>(len));
        int n = uv_try_write(stream, &data, 1);
        if (n < 0 && n != UV_EAGAIN) return close_conn(c);
        done = n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    if (done == len) return;
    auto* w = new WriteReq;
    w->buf = uv_buf_init(static_cast<char*>(std::malloc(len - done)), static_cast<unsigned>(len - done));
    std::memcpy(w->buf.base, buf->base + done, len - done);
    if (uv_write(&w->req, stream, &w->buf, 1, on_written) != 0) {
        std::free(w->buf.base);
        delete w;
        return close_conn(c);
    }
    if (!unbounded && uv_stream_get_write_queue_size(stream) > kHighWater) {
        c->reading = false;
        uv_read_stop(stream);
    }
}

void on_connection(uv_stream_t* server, int status) {
    if (status < 0) return;  // libuv retries accept errors itself (it keeps a spare fd for EMFILE)
    auto* c = new Conn;
    c->is_pipe = listener_is_pipe;
    if (c->is_pipe)
        uv_pipe_init(loop, &c->handle.pipe, 0);
    else
        uv_tcp_init(loop, &c->handle.tcp);
    c->stream()->data = c;
    if (uv_accept(server, c->stream()) != 0) return close_conn(c);
    uv_read_start(c->stream(), on_alloc, on_read);
}

void on_stop(uv_poll_t*, int, int) {
    uv_stop(loop);
}

}  // namespace

int main(int argc, char** argv) {
    common::CliSpec spec{
        "libuv-echo", "echo server written with libuv, for the benchmarks", false, false, {}};
    spec.extras.push_back({"unbounded", "",
                           "never stop reading, however much output waits (the fire-hose trap)",
                           [](std::string_view, std::string*) { return unbounded = true; }});
    common::Cli cli = common::parse_cli(argc, argv, spec);
    const common::Address& address = cli.listen.front();
    if (!address.is_stream()) {
        std::fprintf(stderr, "libuv-echo: only tcp and unix addresses\n%s", common::usage(spec).c_str());
        return 2;
    }
    common::install_signal_handlers("libuv-echo");
    std::string error;
    common::Fd fd = common::listen_on(address, {.nonblocking = true}, &error);
    if (!fd) common::die(error, 0);
    const std::string url = common::local_url(fd.get(), address);

    loop = uv_default_loop();
    static uv_tcp_t tcp;
    static uv_pipe_t pipe;
    listener_is_pipe = address.is_unix();
    int rc = listener_is_pipe ? (uv_pipe_init(loop, &pipe, 0), uv_pipe_open(&pipe, fd.get()))
                              : (uv_tcp_init(loop, &tcp), uv_tcp_open(&tcp, fd.get()));
    if (rc != 0) common::die(std::string("uv_open: ") + uv_strerror(rc), 0);
    fd.release();  // libuv owns it now
    listener =
        listener_is_pipe ? reinterpret_cast<uv_stream_t*>(&pipe) : reinterpret_cast<uv_stream_t*>(&tcp);
    if ((rc = uv_listen(listener, SOMAXCONN, on_connection)) != 0)
        common::die(std::string("uv_listen: ") + uv_strerror(rc), 0);

    static uv_poll_t stop;
    uv_poll_init(loop, &stop, common::stop_fd());
    uv_poll_start(&stop, UV_READABLE, on_stop);
    common::announce_listening(url);

    uv_run(loop, UV_RUN_DEFAULT);
    if (address.is_unix()) ::unlink(address.path.c_str());
    return 0;
}
