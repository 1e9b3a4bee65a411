// stage04-proxy: a TCP relay on evloop. Every client that connects to a --listen address
// gets a connection of its own to --to, dialled from the client's loop, and the bytes go
// both ways unchanged until both sides are done (relay.hpp says what that takes). The
// echo conformance suite judges it in front of stage04-echo: to a client, an echo server
// behind a relay must still be an echo server.
//
//   stage04-proxy --listen tcp://127.0.0.1:6000 --to tcp://127.0.0.1:5000
//   stage04-proxy --listen tcp://[::1]:6000 --listen unix:///tmp/relay.sock --to unix:///tmp/echo.sock
//
// It relays streams (tcp, tcp4, tcp6, unix) only: a UDP listener is refused.
#include <cstdio>
#include <string>

#include "common/cli.hpp"
#include "common/process.hpp"
#include "evloop/evloop.hpp"
#include "examples/flags.hpp"
#include "relay.hpp"

namespace {

// A backend address: a stream, with a real port, parsed by the listen grammar (so a name
// is refused instead of resolved, which would block the loop).
bool parse_backend(std::string_view text, std::string* url, std::string* error) {
    auto address = common::parse_address(text, error);
    if (!address) return false;
    if (!address->is_stream()) return *error = "the relay dials streams: tcp, tcp4, tcp6 or unix", false;
    if (!address->is_unix() && address->port == 0) return *error = "port 0 names no backend", false;
    *url = address->url();
    return true;
}

// "65536", "64k", "1m": a byte count, k and m meaning KiB and MiB.
bool parse_bytes(std::string_view text, std::size_t* out) {
    std::size_t unit = 1;
    if (!text.empty() && (text.back() == 'k' || text.back() == 'm')) {
        unit = text.back() == 'k' ? 1024 : 1024 * 1024;
        text.remove_suffix(1);
    }
    long long n = 0;
    if (!examples::parse_count(text, 1, (1ll << 40) / static_cast<long long>(unit), &n)) return false;
    *out = static_cast<std::size_t>(n) * unit;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    evloop::Options options;
    proxy::RelayOptions relay;
    common::CliSpec spec{
        "stage04-proxy",
        "A relay of streams (tcp, tcp4, tcp6, unix; no udp): each client gets its own connection to --to.",
        true,
        false,
        {}};
    spec.extras.push_back(
        {"to", "URL", "the backend (required): tcp://HOST:PORT, tcp6://[HOST]:PORT, unix://PATH",
         [&relay](std::string_view v, std::string* e) { return parse_backend(v, &relay.to, e); }});
    spec.extras.push_back(
        {"connect-timeout", "DURATION", "close a client whose backend has not answered by then (5s)",
         [&relay](std::string_view v, std::string* e) {
             if (examples::parse_duration(v, &relay.connect_timeout) && relay.connect_timeout.count() > 0)
                 return true;
             *e = "expected a duration above 0, such as 500ms or 5s";
             return false;
         }});
    // A relay's own buffers need not be large: the kernel's socket buffers already hold
    // hundreds of KiB each way, so the relay holds one mark and one read past them per
    // direction (the library's 1 MiB default suits a server whose replies it builds).
    options.high_water = 64 * 1024;
    spec.extras.push_back({"high-water", "BYTES",
                           "stop reading a side while the other holds more than this for it (64k)",
                           [&options](std::string_view v, std::string* e) {
                               if (parse_bytes(v, &options.high_water) && options.high_water >= 4 &&
                                   options.high_water < options.max_output)
                                   return true;
                               *e = "expected a byte count from 4 to below 64m, such as 65536, 64k or 1m";
                               return false;
                           }});
    examples::add_stage04_flags(spec, &options);
    common::Cli cli = common::parse_cli(argc, argv, spec);
    if (relay.to.empty()) common::usage_error(spec, "--to URL is required: the backend to relay to");
    for (const auto& a : cli.listen)
        if (!a.is_stream())
            common::usage_error(spec, "bad --listen '" + a.url() + "': the relay serves streams only");
    examples::finish_options(cli, spec.program, &options);
    relay.high_water = options.high_water;

    long limit = evloop::raise_fd_limit();
    std::fprintf(stderr,
                 "stage04-proxy: descriptor limit %ld: room for about %ld clients (two descriptors each)\n",
                 limit, limit > 32 ? (limit - 32) / 2 : 0);

    evloop::Events events = proxy::relay_events(relay);
    events.serving = [](const evloop::ServerInfo& info) {
        for (const auto& url : info.addrs)
            common::announce_listening(url);
        return evloop::Action::none;
    };
    evloop::Server server(events, options);
    return examples::serve_until_signal(server, examples::urls(cli), spec.program);
}
