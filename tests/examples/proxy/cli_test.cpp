// The relay's command line: everything the contract asks of a server's, plus --to, which
// must name a stream the relay can dial without blocking (a numeric host, a real port).
#include <doctest/doctest.h>

#include "support.hpp"

using namespace proxytest;

TEST_CASE("cli: a missing or bad --to or a UDP --listen exits 2 with a reason and nothing listening") {
    harness::Case c({.start_server = false});
    const std::string good = "tcp://127.0.0.1:9";
    const std::vector<std::vector<std::string>> bad = {
        {},                                               // no --to at all
        {"--to", "udp://127.0.0.1:9"},                    // not a stream
        {"--to", "tcp://127.0.0.1:0"},                    // no port to dial
        {"--to", "tcp://example.com:80"},                 // a name would have to be resolved
        {"--to", "tcp://127.0.0.1"},                      // no port at all
        {"--to", ""},                                     // nothing
        {"--to", good, "--listen", "udp://127.0.0.1:0"},  // the relay serves streams only
        {"--to", good, "--connect-timeout", "0"},         // would give up before trying
        {"--to", good, "--connect-timeout", "soon"},
        {"--to", good, "--high-water", "3"},    // no room for a low water mark below it
        {"--to", good, "--high-water", "64m"},  // not below max_output
        {"--to", good, "--high-water", "lots"},
    };
    for (const auto& args : bad) {
        std::vector<std::string> argv = args;
        argv.insert(argv.end(), {"--listen", "tcp://127.0.0.1:0"});
        auto r = harness::run_to_exit(proxy_path(), argv, harness::scaled(2s), "listening on ");
        std::string shown;
        for (const auto& a : args)
            shown += " '" + a + "'";
        INFO("arguments:" << shown << ": " << r.status.describe() << ", stderr: " << r.err);
        CHECK(r.out.find("listening on") == std::string::npos);
        CHECK((r.status.exited && r.status.code == 2));
        CHECK(r.err.rfind("stage04-proxy: ", 0) == 0);
        CHECK(r.err.find("usage: stage04-proxy") != std::string::npos);
    }
}

TEST_CASE("cli: --help lists --to --connect-timeout and --high-water on stdout and exits 0") {
    harness::Case c({.start_server = false});
    auto r = harness::run_to_exit(proxy_path(), {"--help"}, harness::scaled(2s));
    CHECK((r.status.exited && r.status.code == 0));
    CHECK(r.out.find("--to URL") != std::string::npos);
    CHECK(r.out.find("--connect-timeout DURATION") != std::string::npos);
    CHECK(r.out.find("--high-water BYTES") != std::string::npos);
}
