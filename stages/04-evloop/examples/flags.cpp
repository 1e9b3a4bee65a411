#include "flags.hpp"

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <thread>
#include <utility>

#include "common/process.hpp"

namespace examples {
namespace {

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

bool parse_count(std::string_view text, long long min, long long max, long long* out) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return false;
    *out = value;
    return true;
}

bool parse_duration(std::string_view text, evloop::Duration* out) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    long long n = 0;
    if (digits == 0 || !parse_count(text.substr(0, digits), 0, std::numeric_limits<long long>::max(), &n))
        return false;
    auto unit = text.substr(digits);
    long long per = 0;  // nanoseconds per unit
    if (unit == "ms")
        per = 1'000'000;
    else if (unit == "s")
        per = 1'000'000'000;
    else if (unit == "m")
        per = 60'000'000'000;
    else if (unit.empty() && n == 0)
        per = 1;
    else
        return false;
    // Refuse what a Duration cannot hold rather than let it wrap into a short (or negative)
    // timeout: 9999999999s is about 317 years, past the 292 that 64-bit nanoseconds reach.
    if (n > evloop::Duration::max().count() / per) return false;
    *out = evloop::Duration(n * per);
    return true;
}

void add_stage04_flags(common::CliSpec& spec, evloop::Options* options) {
    spec.extras.push_back({"loops", "N", "event loops, each on its own thread; -1: one per CPU (default 1)",
                           [options](std::string_view v, std::string* e) {
                               long long n = 0;
                               if (parse_count(v, -1, 1024, &n) && n != 0) {
                                   options->loops = static_cast<int>(n);
                                   return true;
                               }
                               *e = "expected -1 or a count from 1 to 1024";
                               return false;
                           }});
    spec.extras.push_back(choice<evloop::Balance>(
        "balance", "random|round-robin|least-connections (default round-robin)", &options->balance,
        {{"random", evloop::Balance::random},
         {"round-robin", evloop::Balance::round_robin},
         {"least-connections", evloop::Balance::least_connections}}));
    spec.extras.push_back({"max-conns", "N", "close new connections beyond N at once (default 0: no cap)",
                           [options](std::string_view v, std::string* e) {
                               long long n = 0;
                               if (parse_count(v, 0, std::numeric_limits<long long>::max(), &n)) {
                                   options->max_conns = static_cast<std::size_t>(n);
                                   return true;
                               }
                               *e = "expected a count";
                               return false;
                           }});
    spec.extras.push_back({"idle-timeout", "DURATION",
                           "close connections idle this long, e.g. 500ms, 30s (0: off)",
                           [options](std::string_view v, std::string* e) {
                               if (parse_duration(v, &options->idle_timeout)) return true;
                               *e = "expected a duration such as 500ms or 30s (at most 292 years)";
                               return false;
                           }});
    spec.extras.push_back(choice<evloop::Backend>("backend", "epoll|kqueue|poll (default: the best built in)",
                                                  &options->backend,
                                                  {{"epoll", evloop::Backend::epoll},
                                                   {"kqueue", evloop::Backend::kqueue},
                                                   {"poll", evloop::Backend::poll}}));
}

void finish_options(const common::Cli& cli, const std::string& program, evloop::Options* options) {
    options->trace = cli.trace;
    common::install_signal_handlers(program.c_str());
    common::set_trace(cli.trace);
}

std::vector<std::string> urls(const common::Cli& cli) {
    std::vector<std::string> out;
    for (const auto& a : cli.listen)
        out.push_back(a.url());
    return out;
}

int serve_until_signal(evloop::Server& server, const std::vector<std::string>& urls,
                       const std::string& program) {
    // Signals arrive on common's self-pipe; a small thread turns that into stop().
    std::thread watcher([&server] {
        pollfd p{common::stop_fd(), POLLIN, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
        server.stop();
    });
    evloop::Error error;
    try {
        error = server.serve(urls);
    } catch (const std::exception& e) {
        // A callback threw: serve() stopped every loop and closed every socket first.
        error = evloop::Error{ECANCELED, std::string("stopped by an exception: ") + e.what()};
    }
    if (error) {
        std::fprintf(stderr, "%s: %s\n", program.c_str(), error.message.c_str());
        watcher.detach();  // still waiting for a signal that will not matter now
        return 1;
    }
    // serve() returned without a signal only after Action::shutdown: release the watcher.
    if (!common::stop_requested()) ::raise(SIGTERM);
    watcher.join();
    return 0;
}

}  // namespace examples
