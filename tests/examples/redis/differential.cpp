// The differential test: the same input to stage04-redis and to a real redis-server, the
// outputs compared byte for byte, errors included.
//
//   redis-differential script STAGE04 FILE   a redis-cli script (see scripts/README.md)
//   redis-differential raw STAGE04           raw protocol bytes no client library sends
//
// Exits 0 when every output matched, 1 with both outputs shown when one did not, and 77
// (skipped) when redis-server or redis-cli is not installed.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "raw_cases.hpp"
#include "support.hpp"

namespace {

using namespace redis_test;

struct Segment {
    std::string commands;
    bool sorted = false;  // compare the reply's lines in sorted order (KEYS: hash order differs)
    int line = 0;         // where it starts in the script, for messages
};

// A script is redis-cli input. "# sort" before a command runs it on its own and compares
// its reply's lines sorted; other lines starting with '#' and blank lines are skipped.
std::vector<Segment> read_script(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw harness::Failure("cannot read " + path);
    std::vector<Segment> segments(1);
    std::string text;
    bool sort_next = false;
    for (int n = 1; std::getline(in, text); ++n) {
        if (text.rfind("# sort", 0) == 0) {
            sort_next = true;
            continue;
        }
        if (text.empty() || text[0] == '#') continue;
        if (sort_next || segments.back().sorted) segments.push_back({});
        Segment& s = segments.back();
        if (s.commands.empty()) s.line = n;
        s.sorted = sort_next;
        s.commands += text + "\n";
        sort_next = false;
    }
    return segments;
}

std::string sorted_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        // redis-cli numbers array elements ("1) ..."): drop the numbers before sorting.
        auto close = l.find(") ");
        if (close != std::string::npos && close > 0 &&
            std::all_of(l.begin(), l.begin() + static_cast<long>(close),
                        [](char c) { return c == ' ' || (c >= '0' && c <= '9'); }))
            l = l.substr(close + 2);
        lines.push_back(l);
    }
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (auto& l : lines)
        out += l + "\n";
    return out;
}

std::string run_cli(const std::string& cli, int port, const Segment& s) {
    auto r = run_with_input(cli, {"--no-raw", "-p", std::to_string(port)}, s.commands,
                            harness::scaled(milliseconds(20000)));
    if (r.status.timed_out) throw harness::Failure("redis-cli did not finish within 20 s");
    std::string out = r.out + "[redis-cli " + r.status.describe() + "]\n";
    return s.sorted ? sorted_lines(out) : out;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        lines.push_back(l);
    return lines;
}

// The first output line that differs, with a few lines of context from both servers.
void report(const std::string& path, const Segment& s, const std::string& want, const std::string& got) {
    auto a = lines_of(want), b = lines_of(got);
    std::size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i])
        ++i;
    std::printf("MISMATCH in the segment of %s starting at line %d, output line %zu:\n", path.c_str(), s.line,
                i + 1);
    for (const auto& [who, lines] : {std::pair{"redis-server", &a}, std::pair{"stage04-redis", &b}}) {
        std::printf("--- %s\n", who);
        for (std::size_t k = i < 3 ? 0 : i - 3; k < std::min(lines->size(), i + 4); ++k)
            std::printf("%s %s\n", k == i ? ">" : " ", (*lines)[k].c_str());
    }
}

int script_mode(const std::string& stage04, const std::string& path) {
    std::string cli = require_program("redis-cli", "redis-tools");
    std::string real = require_program("redis-server", "redis-server");
    auto segments = read_script(path);
    auto ours = start_stage04(stage04);
    auto theirs = start_redis_server(real);
    int mismatches = 0;
    for (const auto& s : segments) {
        if (s.commands.empty()) continue;
        std::string want = run_cli(cli, theirs.port, s), got = run_cli(cli, port_of(*ours), s);
        if (want == got) continue;
        ++mismatches;
        report(path, s, want, got);
    }
    std::printf("%zu segments of %s: %d mismatched\n", segments.size(), path.c_str(), mismatches);
    return mismatches == 0 ? 0 : 1;
}

// What a server answered to raw bytes: the reply bytes, and whether it then closed.
std::string exchange(int port, const RawCase& c) {
    RawClient client(port);
    client.send(c.bytes);
    bool closed = false;
    std::string got = client.read_to_end(milliseconds(c.wait_ms), &closed);
    return got + (closed ? "[closed]" : "[open]");
}

std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char ch : s.substr(0, 600)) {
        char buf[8];
        if (ch == '\r')
            out += "\\r";
        else if (ch == '\n')
            out += "\\n";
        else if (ch < 32 || ch > 126)
            std::snprintf(buf, sizeof buf, "\\x%02x", ch), out += buf;
        else
            out += static_cast<char>(ch);
    }
    return s.size() > 600 ? out + "...(" + std::to_string(s.size()) + " bytes)" : out;
}

int raw_mode(const std::string& stage04) {
    std::string real = require_program("redis-server", "redis-server");
    auto ours = start_stage04(stage04);
    auto theirs = start_redis_server(real);
    int failures = 0;
    for (const RawCase& c : raw_cases()) {
        std::string want = exchange(theirs.port, c), got = exchange(port_of(*ours), c);
        bool ok = c.divergent() ? (want == c.redis_answer && got == c.our_answer) : want == got;
        if (ok) continue;
        ++failures;
        std::printf("MISMATCH in \"%s\"\n  sent:           %s\n  redis-server:   %s\n  stage04-redis:  %s\n",
                    c.name, printable(c.bytes).c_str(), printable(want).c_str(), printable(got).c_str());
        if (c.divergent())
            std::printf("  (a documented difference, expected redis-server %s and stage04-redis %s)\n",
                        printable(c.redis_answer).c_str(), printable(c.our_answer).c_str());
    }
    std::printf("%zu raw cases: %d failed\n", raw_cases().size(), failures);
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() == 3 && args[0] == "script") return script_mode(args[1], args[2]);
        if (args.size() == 2 && args[0] == "raw") return raw_mode(args[1]);
    } catch (const harness::Failure& e) {
        std::printf("FAILED: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "usage: %s script STAGE04-REDIS FILE | raw STAGE04-REDIS\n", argv[0]);
    return 2;
}
