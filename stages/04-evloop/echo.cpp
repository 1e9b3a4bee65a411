// stage04-echo: the echo server of stages 01-03, now twenty lines of evloop callbacks.
// What the earlier stages wrote by hand (the loop, non-blocking I/O, partial writes,
// accept errors) is the library's job here; this file only says "write back what
// arrives". It listens on any mix of tcp, tcp4, tcp6, udp, udp4, udp6 and unix
// addresses, runs several loops, and stops cleanly on SIGINT or SIGTERM.
//
//   stage04-echo --listen tcp://127.0.0.1:5000 --listen udp://127.0.0.1:5000 --loops -1
#include <poll.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "common/cli.hpp"
#include "common/process.hpp"
#include "evloop/evloop.hpp"

namespace {

bool parse_int(std::string_view text, long min, long* out) {
    long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min) return false;
    *out = value;
    return true;
}

// "500ms", "30s", "2m" or "0".
bool parse_duration(std::string_view text, evloop::Duration* out) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    long n = 0;
    if (digits == 0 || !parse_int(text.substr(0, digits), 0, &n)) return false;
    auto unit = text.substr(digits);
    using namespace std::chrono;
    if (unit == "ms")
        *out = milliseconds(n);
    else if (unit == "s")
        *out = seconds(n);
    else if (unit == "m")
        *out = minutes(n);
    else if (unit.empty() && n == 0)
        *out = evloop::Duration(0);
    else
        return false;
    return true;
}

template <typename T>
common::ExtraOption choice(std::string name, std::string help, T* target,
                           std::vector<std::pair<std::string_view, T>> values) {
    return {name, "MODE", help, [target, values](std::string_view v, std::string* error) {
                for (const auto& [word, value] : values)
                    if (v == word) return *target = value, true;
                *error = "not one of the allowed values";
                return false;
            }};
}

}  // namespace

int main(int argc, char** argv) {
    evloop::Options options;
    long loops = 1, max_conns = 0;
    common::CliSpec spec{"stage04-echo", "An echo server built on the evloop library.", true, false, {}};
    spec.extras.push_back({"loops", "N", "event loops, each on its own thread; -1: one per CPU (default 1)",
                           [&](std::string_view v, std::string* e) {
                               if (parse_int(v, -1, &loops) && loops != 0 && loops <= 1024) return true;
                               *e = "expected -1 or a count from 1 to 1024";
                               return false;
                           }});
    spec.extras.push_back(choice<evloop::Balance>(
        "balance", "random|round-robin|least-connections (default round-robin)", &options.balance,
        {{"random", evloop::Balance::random},
         {"round-robin", evloop::Balance::round_robin},
         {"least-connections", evloop::Balance::least_connections}}));
    spec.extras.push_back({"max-conns", "N", "close new connections beyond N at once (default 0: no cap)",
                           [&](std::string_view v, std::string* e) {
                               if (parse_int(v, 0, &max_conns)) return true;
                               *e = "expected a count";
                               return false;
                           }});
    spec.extras.push_back({"idle-timeout", "DURATION",
                           "close connections idle this long, e.g. 500ms, 30s (0: off)",
                           [&](std::string_view v, std::string* e) {
                               if (parse_duration(v, &options.idle_timeout)) return true;
                               *e = "expected a duration such as 500ms or 30s";
                               return false;
                           }});
    spec.extras.push_back(choice<evloop::Backend>("backend", "epoll|kqueue|poll (default: the best built in)",
                                                  &options.backend,
                                                  {{"epoll", evloop::Backend::epoll},
                                                   {"kqueue", evloop::Backend::kqueue},
                                                   {"poll", evloop::Backend::poll}}));
    common::Cli cli = common::parse_cli(argc, argv, spec);
    options.loops = static_cast<int>(loops);
    options.max_conns = static_cast<std::size_t>(max_conns);
    options.trace = cli.trace;
    common::install_signal_handlers("stage04-echo");
    common::set_trace(cli.trace);

    long limit = evloop::raise_fd_limit();
    std::fprintf(stderr, "stage04-echo: descriptor limit %ld: room for about %ld connections\n", limit,
                 limit > 32 ? limit - 32 : 0);

    // ANCHOR: echo-events
    evloop::Events events;
    events.serving = [](const evloop::ServerInfo& info) {
        for (const auto& url : info.addrs)
            common::announce_listening(url);
        return evloop::Action::none;
    };
    events.opened = [](evloop::Conn, evloop::ConnOptions& opts) {
        opts.reuse_input_buffer = true;  // we copy into the output at once: no second copy needed
        return evloop::Action::none;
    };
    events.data = [](evloop::Conn c, std::string_view in) {
        c.write(in);
        return evloop::Action::none;
    };
    // ANCHOR_END: echo-events

    evloop::Server server(events, options);
    // Signals arrive on common's self-pipe; a small thread turns that into stop().
    std::thread watcher([&server] {
        pollfd p{common::stop_fd(), POLLIN, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        server.stop();
    });
    std::vector<std::string> urls;
    for (const auto& a : cli.listen)
        urls.push_back(a.url());
    evloop::Error error = server.serve(urls);
    if (error) {
        std::fprintf(stderr, "stage04-echo: %s\n", error.message.c_str());
        watcher.detach();  // still waiting for a signal that will not matter now
        return 1;
    }
    // serve() returned without a signal only after Action::shutdown: release the watcher.
    if (!common::stop_requested()) ::raise(SIGTERM);
    watcher.join();
    return 0;
}
