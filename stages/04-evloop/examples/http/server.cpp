// stage04-http: a static file server for HTTP/1.1, on evloop.
//
// The echo server never had to find where a message ends; this one does. Requests arrive
// cut anywhere: half a request line in one read, forty pipelined requests in the next. The
// HTTP itself lives in Session (session.hpp), which knows nothing of sockets; this file is
// the glue, and the glue is where the event-loop lessons are:
//   - an unfinished request stays in the library's input buffer (Conn::keep), uncopied;
//   - the replies to all the requests of one read leave in one write;
//   - a large file is read a chunk at a time as the client drains it (Events::drained),
//     so a slow reader of a 1 GB file costs about a third of the high water mark;
//   - requests pipelined behind such a file wait, unread (Conn::pause), until it is sent.
// It lacks HTTP/2, TLS, ranges, compression and ETags, and it reads files with pread into
// the output rather than sendfile(2): evloop has no way to queue a file region yet.
//
//   stage04-http --root ./public --listen tcp://127.0.0.1:8080
//   curl -v http://127.0.0.1:8080/
#include <cstdio>
#include <memory>
#include <string>

#include "common/cli.hpp"
#include "common/process.hpp"
#include "evloop/evloop.hpp"
#include "examples/flags.hpp"
#include "session.hpp"

namespace {

// A slow reader of a large file holds at most kLowWater + kChunk of pending output: the
// next chunk is read only once the last has drained to low water.
constexpr std::size_t kChunk = 64 << 10;           // a file body is read this much at a time
constexpr std::size_t kBudget = 256 << 10;         // the replies one read may produce before a pause
constexpr std::size_t kHighWater = 1 << 20;        // evloop stops reading above it
constexpr std::size_t kLowWater = kHighWater / 4;  // ... and fires drained at it: the next chunk's cue
constexpr int kChunksPerTurn = 16;                 // then other connections get the loop

struct Connection {
    explicit Connection(const http::Config& config) : session(config) {}
    http::Session session;
    bool waiting = false;    // until the output drains: a file body, or a spent budget
    bool paused = false;     // not reading: from a stall until the requests kept behind it are answered
    bool eof = false;        // the client has finished sending: close once every reply is out
    bool scheduled = false;  // send_more() is due on a timer
    bool timed = false;      // a request timer is armed
};

evloop::Duration request_timeout = std::chrono::seconds(30);  // --request-timeout

Connection& state(evloop::Conn c) {
    return **std::any_cast<std::shared_ptr<Connection>>(&c.context());
}

// The replies of one data event are built here and written at once. One per loop thread.
std::string& scratch() {
    thread_local std::string out;
    out.clear();
    return out;
}

void send_more(evloop::Conn c);

// ANCHOR: request-timeout
// A request must arrive whole within --request-timeout of the moment it was first seen
// unfinished, or it gets 408 and the connection closes. Without this, a client that sends
// its head a byte every few seconds (slowloris) is never idle, so --idle-timeout never
// fires, and it holds its connection (and its place under --max-conns) for ever.
void watch_request(evloop::Conn c) {
    Connection& conn = state(c);
    if (conn.timed || conn.waiting || !conn.session.mid_request() || request_timeout.count() == 0) return;
    conn.timed = true;
    c.after(request_timeout, [seen = conn.session.requests()](evloop::Conn later) {
        Connection& s = state(later);
        s.timed = false;
        if (s.waiting || !s.session.mid_request()) return;
        if (s.session.requests() != seen) return watch_request(later);  // a newer request: its own time
        std::string& out = scratch();
        s.session.time_out(out);
        later.write(out);
        later.close();
    });
}
// ANCHOR_END: request-timeout

// ANCHOR: on-data
evloop::Action on_data(evloop::Conn c, std::string_view in) {
    Connection& conn = state(c);
    if (conn.waiting) {  // bytes read just before the pause took effect: they wait their turn
        c.keep(in.size());
        return evloop::Action::none;
    }
    std::string& out = scratch();
    auto r = conn.session.on_input(in, out, kBudget);
    if (!out.empty()) c.write(out);
    c.keep(in.size() - r.consumed);  // an unfinished request, or those behind a stall
    if (r.close) return evloop::Action::close;
    if (r.stalled) {
        conn.waiting = true;
        if (!conn.paused) c.pause();
        conn.paused = true;
        send_more(c);
        return evloop::Action::none;
    }
    // Read again only now that every request kept behind a stall is answered: until then the
    // client's later requests wait in its socket, not in our input buffer.
    if (conn.paused) c.resume();
    conn.paused = false;
    if (conn.eof) return evloop::Action::close;
    watch_request(c);
    return evloop::Action::none;
}
// ANCHOR_END: on-data

// ANCHOR: send-more
// Called when a reply stalled and again each time the output drains: sends the next chunks
// of a file body, then lets the requests that waited behind it be read.
void send_more(evloop::Conn c) {
    Connection& conn = state(c);
    if (!conn.waiting) return;
    for (int turn = 0; conn.session.body_pending() && c.pending_output() <= kLowWater; ++turn) {
        if (turn == kChunksPerTurn) {  // a fast reader could take a whole file in one go
            if (!conn.scheduled)
                c.after(evloop::Duration(0), [](evloop::Conn later) {
                    state(later).scheduled = false;
                    send_more(later);
                });
            conn.scheduled = true;
            return;
        }
        std::string& out = scratch();
        if (!conn.session.pump(out, kChunk)) return c.close();
        c.write(out);
    }
    // Above low water, drained will call again; at or below it, it would not.
    if (conn.session.body_pending() || c.pending_output() > kLowWater) return;
    if (conn.session.close_after_body()) return c.close();
    conn.waiting = false;
    c.handle().wake();  // a data event for the requests kept behind the stall; it resumes reading
}
// ANCHOR_END: send-more

}  // namespace

int main(int argc, char** argv) {
    evloop::Options options;
    options.high_water = kHighWater;
    options.low_water = kLowWater;
    http::Site site;
    bool have_root = false;
    common::CliSpec spec{
        "stage04-http", "A static file server for HTTP/1.1 built on evloop.", true, false, {}};
    spec.extras.push_back(
        {"root", "DIR", "the folder to serve (required)",
         [&](std::string_view v, std::string* e) { return have_root = site.open(std::string(v), e); }});
    spec.extras.push_back(
        {"request-timeout", "DURATION",
         "answer 408 and close when a request has not fully arrived this long after it began "
         "(default 30s; 0: no limit)",
         [](std::string_view v, std::string* e) {
             if (examples::parse_duration(v, &request_timeout)) return true;
             *e = "expected a duration such as 500ms or 30s";
             return false;
         }});
    examples::add_stage04_flags(spec, &options);
    common::Cli cli = common::parse_cli(argc, argv, spec);
    auto usage_error = [&](const std::string& reason) {
        std::fprintf(stderr, "stage04-http: %s\n%s", reason.c_str(), common::usage(spec).c_str());
        return 2;
    };
    if (!have_root) return usage_error("--root DIR is required");
    for (const auto& address : cli.listen)
        if (!address.is_stream())
            return usage_error("bad --listen '" + address.url() + "': HTTP needs a stream: tcp or unix");
    examples::finish_options(cli, spec.program, &options);
    evloop::raise_fd_limit();

    http::Clock clock;  // each loop thread formats its own Date
    http::Config config{.site = &site, .clock = &clock, .chunk = kChunk};
    evloop::Events events;
    events.serving = [](const evloop::ServerInfo& info) {
        for (const auto& url : info.addrs)
            common::announce_listening(url);
        return evloop::Action::none;
    };
    events.opened = [&config](evloop::Conn c, evloop::ConnOptions&) {
        c.context() = std::make_shared<Connection>(config);
        return evloop::Action::none;
    };
    events.data = on_data;
    events.drained = send_more;
    // A client that half-closes after its requests still gets every reply.
    events.eof = [](evloop::Conn c) {
        Connection& conn = state(c);
        conn.eof = true;
        return conn.waiting ? evloop::Action::none : evloop::Action::close;
    };
    evloop::Server server(events, options);
    return examples::serve_until_signal(server, examples::urls(cli), spec.program);
}
