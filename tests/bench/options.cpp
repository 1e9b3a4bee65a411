#include "options.hpp"

#include <getopt.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace bench {
namespace {

constexpr const char* kUsage =
    "usage: echo-bench --address URL [options]\n"
    "       echo-bench [options] -- SERVER [ARGS...]\n"
    "  Drives an echo server and checks every byte it returns. The second form starts\n"
    "  SERVER ARGS --listen URL (default tcp://127.0.0.1:0), reads its 'listening on' line,\n"
    "  measures it as with --pid, and fails unless SIGTERM then stops it with status 0.\n"
    "  -a, --address URL      tcp://HOST:PORT, tcp6://[HOST]:PORT or unix://PATH\n"
    "  -m, --mode MODE        ping: one message in flight per connection, wait for its echo (default)\n"
    "                         stream: keep writing, up to --in-flight bytes unechoed per connection\n"
    "                         connect: connect, one echo, half-close, repeat\n"
    "                         hold: open --connections idle connections, then one echo on each\n"
    "  -t, --threads N        client threads, each with its own epoll set (default 1)\n"
    "  -c, --connections N    concurrent connections (default 1)\n"
    "  -s, --size BYTES       message size; write size in stream mode (default 64, stream 64K)\n"
    "  -p, --in-flight BYTES  stream: unechoed bytes per connection, 0 = no limit (default 0)\n"
    "  -d, --duration TIME    time measured; in hold mode, time held (default 5s)\n"
    "  -w, --warmup TIME      time run before measuring (default 1s; 0 with --messages)\n"
    "  -n, --messages N       ping: stop after N messages in all instead of after --duration\n"
    "      --timeout TIME     wait this long for outstanding echoes at the end (default 5s)\n"
    "      --pid PID          the server's process: report its CPU time, RSS and fds (hold mode measures its "
    "growth)\n"
    "      --json             print one JSON object instead of the text report\n"
    "  -q, --quiet            no progress lines on stderr\n"
    "  -h, --help             print this help and exit\n"
    "  BYTES take K or M (KiB, MiB); TIME takes ms or s (bare numbers are seconds).\n"
    "  Exit status: 0 when every echo was byte-exact and complete, 1 on any mismatch, short\n"
    "  echo, unexpected close or error, 2 for bad arguments.\n";

[[noreturn]] void usage_error(const std::string& reason) {
    std::fprintf(stderr, "echo-bench: %s\n%s", reason.c_str(), kUsage);
    std::exit(2);
}

// Whole-string decimal parsing: "80x", "-1" and "" are errors, not 80, huge or 0.
std::uint64_t parse_count(std::string_view name, std::string_view text, std::uint64_t max) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value > max)
        usage_error("bad " + std::string(name) + " '" + std::string(text) + "'");
    return value;
}

std::uint64_t parse_bytes(std::string_view name, std::string_view text) {
    std::uint64_t unit = 1;
    if (!text.empty() && (text.back() == 'K' || text.back() == 'k')) unit = 1024;
    if (!text.empty() && (text.back() == 'M' || text.back() == 'm')) unit = 1024 * 1024;
    if (unit != 1) text.remove_suffix(1);
    return parse_count(name, text, std::numeric_limits<std::uint32_t>::max()) * unit;
}

double parse_seconds(std::string_view name, std::string_view text) {
    double scale = 1;
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
        scale = 0.001;
        text.remove_suffix(2);
    } else if (!text.empty() && text.back() == 's') {
        text.remove_suffix(1);
    }
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || !(value >= 0) ||
        value > 86400)
        usage_error("bad " + std::string(name) + " '" + std::string(text) + "'");
    return value * scale;
}

}  // namespace

const char* mode_name(Mode mode) {
    switch (mode) {
        case Mode::ping:
            return "ping";
        case Mode::stream:
            return "stream";
        case Mode::connect:
            return "connect";
        case Mode::hold:
            return "hold";
    }
    return "?";
}

Options parse_options(int argc, char** argv) {
    enum { kTimeout = 1000, kPid, kJson };
    static const option kLong[] = {
        {"address", required_argument, nullptr, 'a'},
        {"mode", required_argument, nullptr, 'm'},
        {"threads", required_argument, nullptr, 't'},
        {"connections", required_argument, nullptr, 'c'},
        {"size", required_argument, nullptr, 's'},
        {"in-flight", required_argument, nullptr, 'p'},
        {"duration", required_argument, nullptr, 'd'},
        {"warmup", required_argument, nullptr, 'w'},
        {"messages", required_argument, nullptr, 'n'},
        {"timeout", required_argument, nullptr, kTimeout},
        {"pid", required_argument, nullptr, kPid},
        {"json", no_argument, nullptr, kJson},
        {"quiet", no_argument, nullptr, 'q'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    Options o;
    bool have_address = false, have_size = false, have_warmup = false;
    opterr = 0;  // our own message, then the usage
    int c;
    while ((c = getopt_long(argc, argv, ":a:m:t:c:s:p:d:w:n:qh", kLong, nullptr)) != -1) {
        std::string_view arg = optarg ? optarg : "";
        switch (c) {
            case 'a': {
                std::string error;
                auto address = common::parse_address(arg, &error);
                if (!address) usage_error("bad --address '" + std::string(arg) + "': " + error);
                if (!address->is_stream()) usage_error("--address must be a stream (tcp or unix) address");
                o.address = *address;
                have_address = true;
                break;
            }
            case 'm':
                if (arg == "ping")
                    o.mode = Mode::ping;
                else if (arg == "stream")
                    o.mode = Mode::stream;
                else if (arg == "connect")
                    o.mode = Mode::connect;
                else if (arg == "hold")
                    o.mode = Mode::hold;
                else
                    usage_error("bad --mode '" + std::string(arg) + "'");
                break;
            case 't':
                o.threads = static_cast<int>(parse_count("--threads", arg, 256));
                break;
            case 'c':
                o.connections = static_cast<int>(parse_count("--connections", arg, 1000000));
                break;
            case 's':
                o.size = parse_bytes("--size", arg);
                have_size = true;
                break;
            case 'p':
                o.in_flight = parse_bytes("--in-flight", arg);
                break;
            case 'd':
                o.duration = parse_seconds("--duration", arg);
                break;
            case 'w':
                o.warmup = parse_seconds("--warmup", arg);
                have_warmup = true;
                break;
            case 'n':
                o.messages = parse_count("--messages", arg, std::uint64_t{1} << 40);
                break;
            case kTimeout:
                o.timeout = parse_seconds("--timeout", arg);
                break;
            case kPid:
                o.server_pid = static_cast<pid_t>(parse_count("--pid", arg, 1 << 30));
                break;
            case kJson:
                o.json = true;
                break;
            case 'q':
                o.quiet = true;
                break;
            case 'h':
                std::fputs(kUsage, stdout);
                std::exit(0);
            case ':':
                usage_error(std::string("option ") + argv[optind - 1] + " needs a value");
            default:
                usage_error(std::string("unknown option ") + argv[optind - 1]);
        }
    }
    if (optind > 1 && std::string_view(argv[optind - 1]) == "--")
        for (int i = optind; i < argc; ++i)
            o.server_command.emplace_back(argv[i]);
    else if (optind < argc)
        usage_error("unexpected argument '" + std::string(argv[optind]) + "'");
    if (!o.server_command.empty()) {
        if (o.server_pid != 0) usage_error("--pid and a server command exclude each other");
        if (!have_address) o.address = *common::parse_address("tcp://127.0.0.1:0", nullptr);
    } else if (!have_address) {
        usage_error("--address or a server command is required");
    } else if (!o.address.is_unix() && o.address.port == 0) {
        usage_error("--address needs a port");
    }
    if (optind > 1 && std::string_view(argv[optind - 1]) == "--" && o.server_command.empty())
        usage_error("no server command after --");
    if (o.threads < 1 || o.connections < 1) usage_error("--threads and --connections must be at least 1");
    if (o.threads > o.connections) o.threads = o.connections;
    if (!have_size) o.size = o.mode == Mode::stream ? 64 * 1024 : 64;
    if (o.size == 0) usage_error("--size must be at least 1");
    if (o.messages != 0 && o.mode != Mode::ping) usage_error("--messages applies to ping mode only");
    if (o.messages != 0 && !have_warmup) o.warmup = 0;
    return o;
}

}  // namespace bench
