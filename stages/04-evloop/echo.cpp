// stage04-echo: the echo server of stages 01-03, now a few lines of evloop callbacks.
// What the earlier stages wrote by hand (the loop, non-blocking I/O, partial writes,
// accept errors) is the library's job here; this file only says "write back what
// arrives". It listens on any mix of tcp, tcp4, tcp6, udp, udp4, udp6 and unix
// addresses, runs several loops, and stops cleanly on SIGINT or SIGTERM.
//
//   stage04-echo --listen tcp://127.0.0.1:5000 --listen udp://127.0.0.1:5000 --loops -1
#include <cstdio>
#include <string>

#include "common/cli.hpp"
#include "common/process.hpp"
#include "evloop/evloop.hpp"
#include "examples/flags.hpp"

int main(int argc, char** argv) {
    evloop::Options options;
    common::CliSpec spec{"stage04-echo", "An echo server built on the evloop library.", true, false, {}};
    examples::add_stage04_flags(spec, &options);
    common::Cli cli = common::parse_cli(argc, argv, spec);
    examples::finish_options(cli, spec.program, &options);

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
    events.data = [](evloop::Conn c, std::string_view in) {
        c.write(in);  // sent at once when nothing is queued; the kernel's leftover is kept
        return evloop::Action::none;
    };
    // ANCHOR_END: echo-events

    evloop::Server server(events, options);
    return examples::serve_until_signal(server, examples::urls(cli), spec.program);
}
