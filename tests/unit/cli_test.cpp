// The shared command line: usage errors exit 2 before anything is bound, --help exits 0.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.hpp"

namespace {

struct Outcome {
    int status = -1;  // exit status, or -1 if the parser returned
    std::string out;
    std::string err;
    std::size_t listeners = 0;
};

std::string read_all(int fd) {
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        text.append(buf, static_cast<std::size_t>(n));
    return text;
}

// parse_cli exits on errors, so it runs in a child whose exit status and output we inspect.
Outcome run(std::vector<std::string> args, bool many = false) {
    int out[2], err[2];
    REQUIRE(pipe(out) == 0);
    REQUIRE(pipe(err) == 0);
    std::fflush(stdout);  // or the child would print our buffered output a second time
    std::fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>("test-echo"));
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        common::CliSpec spec{
            .program = "test-echo", .summary = "a test", .many_listeners = many, .extras = {}};
        spec.extras.push_back({"loops", "N", "number of loops", [](std::string_view v, std::string* e) {
                                   if (v == "1" || v == "2") return true;
                                   *e = "must be 1 or 2";
                                   return false;
                               }});
        auto cli = common::parse_cli(static_cast<int>(argv.size() - 1), argv.data(), spec);
        std::printf("parsed %zu\n", cli.listen.size());
        std::fflush(stdout);
        _exit(100);
    }
    close(out[1]);
    close(err[1]);
    Outcome o;
    o.out = read_all(out[0]);
    o.err = read_all(err[0]);
    close(out[0]);
    close(err[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    o.status = WEXITSTATUS(status) == 100 ? -1 : WEXITSTATUS(status);
    if (o.status == -1) o.listeners = std::stoul(o.out.substr(7));
    return o;
}

}  // namespace

TEST_CASE("cli: no arguments means the default address") {
    auto o = run({});
    CHECK(o.status == -1);
    CHECK(o.listeners == 1);
}

TEST_CASE("cli: help goes to stdout and exits 0") {
    auto o = run({"--help"});
    CHECK(o.status == 0);
    CHECK(o.out.find("usage: test-echo") == 0);
    CHECK(o.out.find("--loops N") != std::string::npos);
    CHECK(o.err.empty());
}

TEST_CASE("cli: usage errors exit 2 with a reason and the usage on stderr") {
    const std::vector<std::vector<std::string>> bad = {
        {"--listen", "tcp://127.0.0.1:70000"},
        {"--listen"},
        {"--bogus"},
        {"--listen", "udp://127.0.0.1:0"},
        {"--listen=unix:///tmp/x.sock"},
        {"--listen", "tcp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0"},
        {"--loops", "3"},
        {"stray"},
    };
    for (const auto& args : bad) {
        CAPTURE(args.front());
        auto o = run(args);
        CHECK(o.status == 2);
        CHECK(o.out.empty());
        CHECK(o.err.find("test-echo: ") == 0);
        CHECK(o.err.find("usage: test-echo") != std::string::npos);
    }
}

TEST_CASE("cli: a bad value is echoed on one line with its control characters escaped") {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--listen", "tcp://127.0.0.1:0\r\nlistening on tcp://127.0.0.1:1"}, "0\\r\\nlistening on"},
        {{"--listen=tcp://127.0.0.1:\t80"}, "\\t80"},
        {{"--loops", "3\n"}, "'3\\n'"},
        {{"--bogus\x1b[2J\x7f"}, "--bogus\\x1b[2J\\x7f"},
    };
    for (const auto& item : cases) {
        const std::string& shown = item.second;  // not a structured binding: CAPTURE takes it in a lambda
        CAPTURE(shown);
        auto o = run(item.first);
        CHECK(o.status == 2);
        auto eol = o.err.find('\n');
        REQUIRE(eol != std::string::npos);
        std::string reason = o.err.substr(0, eol);
        CHECK(reason.find(shown) != std::string::npos);
        CHECK(reason.find('\r') == std::string::npos);
        CHECK(reason.find('\x1b') == std::string::npos);
        CHECK(o.err.compare(eol + 1, 17, "usage: test-echo ") == 0);
    }
}

TEST_CASE("cli: many listeners are taken only where the server allows them") {
    auto o = run({"--listen", "tcp://127.0.0.1:0", "--listen=tcp6://[::1]:0", "--loops=2"}, true);
    CHECK(o.status == -1);
    CHECK(o.listeners == 2);
}
