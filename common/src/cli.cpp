#include "common/cli.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace common {
namespace {

constexpr const char* kDefaultListen = "tcp://127.0.0.1:5000";

// The reason quotes what was typed, and must stay one line whatever that was: control
// characters (a stray CR or LF, a terminal escape) are shown as C escapes.
std::string one_line(std::string_view text) {
    std::string out;
    for (unsigned char ch : text) {
        if (ch == '\n') {
            out += "\\n";
        } else if (ch == '\r') {
            out += "\\r";
        } else if (ch == '\t') {
            out += "\\t";
        } else if (ch < 0x20 || ch == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", ch);
            out += hex;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out;
}

// Accepts both "--name value" and "--name=value". Returns the value, or nullptr
// when the option is not `name`; a missing value is a usage error.
const char* option_value(const CliSpec& spec, int argc, char** argv, int* i, std::string_view name) {
    std::string_view arg = argv[*i];
    if (arg.substr(0, 2) != "--") return nullptr;
    arg.remove_prefix(2);
    if (arg == name) {
        if (*i + 1 >= argc) usage_error(spec, "--" + std::string(name) + " needs a value");
        return argv[++*i];
    }
    if (arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=')
        return argv[*i] + 2 + name.size() + 1;
    return nullptr;
}

}  // namespace

void usage_error(const CliSpec& spec, const std::string& reason) {
    std::fprintf(stderr, "%s: %s\n%s", spec.program.c_str(), one_line(reason).c_str(), usage(spec).c_str());
    std::exit(2);
}

std::string usage(const CliSpec& spec) {
    std::string text = "usage: " + spec.program + " [--listen URL]" + (spec.many_listeners ? "..." : "");
    for (const auto& extra : spec.extras)
        text += " [--" + extra.name + (extra.value_name.empty() ? "" : " " + extra.value_name) + "]";
    text += " [--trace] [--help]\n";
    if (!spec.summary.empty()) text += "  " + spec.summary + "\n";
    text += "  --listen URL   address to serve (default " + std::string(kDefaultListen) + ")";
    text += spec.many_listeners ? "; may be given many times\n" : "\n";
    text += spec.stream_only
                ? "                 URL: tcp://HOST:PORT, tcp4://..., tcp6://[HOST]:PORT\n"
                : "                 URL: tcp|tcp4|tcp6|udp|udp4|udp6://HOST:PORT[?reuseport=true],"
                  " unix://PATH\n";
    text += "                 HOST is numeric or localhost; PORT 0 picks a free port\n";
    for (const auto& extra : spec.extras) {
        std::string head = "--" + extra.name + (extra.value_name.empty() ? "" : " " + extra.value_name);
        if (head.size() < 13) head.resize(13, ' ');
        text += "  " + head + "  " + extra.help + "\n";
    }
    text += "  --trace        print each readiness event and syscall result to stderr\n";
    text += "  --help         print this help and exit\n";
    return text;
}

Cli parse_cli(int argc, char** argv, const CliSpec& spec) {
    Cli cli;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage(spec).c_str(), stdout);
            std::exit(0);
        }
        if (arg == "--trace") {
            cli.trace = true;
            continue;
        }
        if (const char* value = option_value(spec, argc, argv, &i, "listen")) {
            std::string error;
            auto address = parse_address(value, &error);
            if (!address) usage_error(spec, "bad --listen '" + std::string(value) + "': " + error);
            if (spec.stream_only && !(address->scheme == Scheme::tcp || address->scheme == Scheme::tcp4 ||
                                      address->scheme == Scheme::tcp6))
                usage_error(spec, "bad --listen '" + std::string(value) + "': this server speaks tcp only");
            if (!spec.many_listeners && !cli.listen.empty()) usage_error(spec, "--listen may be given once");
            cli.listen.push_back(*address);
            continue;
        }
        bool matched = false;
        for (const auto& extra : spec.extras) {
            const char* value = nullptr;
            if (extra.value_name.empty()) {
                if (arg != "--" + extra.name) continue;
                value = "";
            } else if (!(value = option_value(spec, argc, argv, &i, extra.name))) {
                continue;
            }
            std::string error;
            if (!extra.set(value, &error))
                usage_error(spec, "bad --" + extra.name + " '" + value + "': " + error);
            matched = true;
            break;
        }
        if (!matched) usage_error(spec, "unknown argument '" + std::string(arg) + "'");
    }
    if (cli.listen.empty()) cli.listen.push_back(*parse_address(kDefaultListen, nullptr));
    return cli;
}

}  // namespace common
