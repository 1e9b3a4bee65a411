// stage04-redis: a Redis-compatible key-value server on the evloop library, one loop by
// default as Redis itself runs. What it adds over stage04-echo is framing: an echo server
// never needs to know where a message ends, and this one must. A request can arrive split
// across reads or many to a read; each is answered, in order, and the replies of one read
// leave in one write. It speaks RESP2 (multibulk and inline requests) with Redis's limits
// and error wording, and keeps string keys with expiry, lazily and by a periodic sample.
// It deliberately lacks persistence, replication, other value types and RESP3.
//
//   stage04-redis --listen tcp://127.0.0.1:6380
//   redis-cli -p 6380 set greeting hello
#include <cstdio>
#include <string>
#include <utility>

#include "common/cli.hpp"
#include "common/process.hpp"
#include "connection.hpp"
#include "evloop/evloop.hpp"
#include "examples/flags.hpp"

namespace {

// A size as Redis's configuration writes one: bytes, or with a unit (k = 1000, kb = 1024,
// m, mb, g, gb; in any case), between 1 MiB and 4 GiB here.
bool parse_size(std::string_view text, std::size_t* out) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    long long n = 0;
    if (!examples::parse_count(text.substr(0, digits), 0, 1LL << 32, &n)) return false;
    std::string unit;
    for (char c : text.substr(digits))
        unit += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    const std::pair<const char*, long long> units[] = {{"", 1},           {"b", 1},         {"k", 1000},
                                                       {"kb", 1 << 10},   {"m", 1000000},   {"mb", 1 << 20},
                                                       {"g", 1000000000}, {"gb", 1LL << 30}};
    for (auto [name, scale] : units)
        if (unit == name) {
            long long bytes = n * scale;
            if (bytes < (1 << 20) || bytes > (1LL << 32)) return false;
            *out = static_cast<std::size_t>(bytes);
            return true;
        }
    return false;
}

common::ExtraOption size_option(std::string name, std::string help, std::size_t* target) {
    return {std::move(name), "SIZE", std::move(help), [target](std::string_view v, std::string* error) {
                if (parse_size(v, target)) return true;
                *error = "expected a size from 1mb to 4gb, such as 512mb";
                return false;
            }};
}

}  // namespace

int main(int argc, char** argv) {
    evloop::Options options;
    redis::Server state;
    std::size_t max_bulk = static_cast<std::size_t>(state.limits.max_bulk);
    common::CliSpec spec{
        "stage04-redis", "A Redis-compatible key-value server built on the evloop library.", true, false, {}};
    examples::add_stage04_flags(spec, &options);
    spec.extras.push_back(
        size_option("proto-max-bulk-len", "longest argument accepted (default 512mb)", &max_bulk));
    spec.extras.push_back(size_option("client-query-buffer-limit",
                                      "unparsed input one client may leave (default 1gb)",
                                      &state.max_query_buffer));
    common::Cli cli = common::parse_cli(argc, argv, spec);
    for (const auto& address : cli.listen)
        if (!address.is_stream()) {
            std::fprintf(stderr, "%s: bad --listen '%s': this server speaks over streams (tcp or unix)\n%s",
                         spec.program.c_str(), address.url().c_str(), common::usage(spec).c_str());
            return 2;
        }
    examples::finish_options(cli, spec.program, &options);
    evloop::raise_fd_limit();

    state.limits.max_bulk = static_cast<std::int64_t>(max_bulk);
    state.loops = options.loops;
    state.backend = evloop::backend_name(
        options.backend == evloop::Backend::best ? evloop::available_backends().at(0) : options.backend);
    // ANCHOR: options
    // The query buffer limit is the library's bound on kept input: a client whose partial
    // request outgrows it is closed (EMSGSIZE), as Redis closes one that outgrows
    // client-query-buffer-limit. Replies are not bounded by max_output, since one reply
    // may be a 512 MB value; the data callback bounds them instead, by pausing a client
    // whose replies are not being read.
    options.max_input = state.max_query_buffer;
    options.max_output = 0;
    redis::ServeOptions serve;
    serve.loops = options.loops;
    serve.low_water = options.low_water.value_or(options.high_water / 4);
    // ANCHOR_END: options

    evloop::Server server(redis::make_events(state, serve), options);
    return examples::serve_until_signal(server, examples::urls(cli), spec.program);
}
