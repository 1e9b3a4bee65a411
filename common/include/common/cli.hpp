// The command line every server shares: --listen URL, --trace, --help.
// Stage 04 adds its own options through `extras`.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"

namespace common {

struct ExtraOption {
    std::string name;        // without the leading dashes, e.g. "loops"
    std::string value_name;  // e.g. "N"; empty for a flag without a value
    std::string help;
    // Called with the value (empty for a flag). Return false and fill *error to reject it.
    std::function<bool(std::string_view value, std::string* error)> set;
};

struct CliSpec {
    std::string program;          // e.g. "stage01-echo"
    std::string summary;          // one line shown under the usage line
    bool many_listeners = false;  // stage 04: --listen may be repeated
    bool stream_only = true;      // stages 01-03: only tcp, tcp4 and tcp6
    std::vector<ExtraOption> extras;
};

struct Cli {
    std::vector<Address> listen;  // never empty: defaults to tcp://127.0.0.1:5000
    bool trace = false;
};

// Parses argv. On --help prints usage to stdout and exits 0; on any bad argument
// prints "program: reason" and the usage to stderr and exits 2, before anything is bound.
Cli parse_cli(int argc, char** argv, const CliSpec& spec);

std::string usage(const CliSpec& spec);

// "program: reason" and the usage on stderr, then exit 2: for a check parse_cli cannot
// make itself (an option that is required, or two that do not go together).
[[noreturn]] void usage_error(const CliSpec& spec, const std::string& reason);

}  // namespace common
