// What every stage 04 example shares on its command line and in main(): the flags stage 04
// adds to the common ones (--loops, --balance, --max-conns, --idle-timeout, --backend), and
// running a Server until SIGINT or SIGTERM with the contract's exit codes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/cli.hpp"
#include "evloop/evloop.hpp"

namespace examples {

// Adds stage 04's flags to `spec`; each parsed value lands in `options`.
void add_stage04_flags(common::CliSpec& spec, evloop::Options* options);

// After parse_cli(): copies --trace into options and installs the signal handlers.
void finish_options(const common::Cli& cli, const std::string& program, evloop::Options* options);

// "500ms", "30s", "2m", "0": false for anything else, including a value too large for a
// Duration (about 292 years), so nothing overflows later.
bool parse_duration(std::string_view text, evloop::Duration* out);
// A decimal integer in [min, max].
bool parse_count(std::string_view text, long long min, long long max, long long* out);

// The addresses as URLs, in command-line order.
std::vector<std::string> urls(const common::Cli& cli);

// Serves until SIGINT/SIGTERM or Action::shutdown. Returns the process's exit code: 0, or
// 1 with "program: reason" on stderr when serve() failed.
int serve_until_signal(evloop::Server& server, const std::vector<std::string>& urls,
                       const std::string& program);

}  // namespace examples
