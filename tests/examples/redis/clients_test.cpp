// stage04-redis driven by the real Redis tools: redis-benchmark and redis-cli --pipe,
// which pipeline hard, and redis-cli over a unix socket. Smoke tests: they check that
// everything is answered correctly, and time nothing.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "support.hpp"

using namespace redis_test;

TEST_CASE(
    "clients: redis-benchmark runs ping_inline ping_mbulk set and get pipelined 16 deep without an error") {
    std::string benchmark = require_program("redis-benchmark", "redis-tools");
    auto server = start_stage04(stage04_path());
    auto r =
        harness::run_to_exit(benchmark,
                             {"-p", std::to_string(port_of(*server)), "-t", "ping_inline,ping_mbulk,set,get",
                              "-P", "16", "-c", "20", "-n", "20000", "-q"},
                             harness::scaled(milliseconds(60000)));
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.status.clean());
    for (const char* test : {"PING_INLINE: ", "PING_MBULK: ", "SET: ", "GET: "})
        CHECK(r.out.find(test) != std::string::npos);
    CHECK(r.err.find("WARNING") == std::string::npos);  // e.g. "Could not fetch server CONFIG"
    CHECK(r.err.find("rror") == std::string::npos);
}

TEST_CASE("clients: redis-cli --pipe loads 100000 keys with zero errors") {
    std::string cli = require_program("redis-cli", "redis-tools");
    auto server = start_stage04(stage04_path());
    std::string port = std::to_string(port_of(*server));
    std::string input;
    for (int i = 0; i < 100000; ++i) {
        std::string key = "key:" + std::to_string(i), value = "value:" + std::to_string(i * 7);
        input += "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$" +
                 std::to_string(value.size()) + "\r\n" + value + "\r\n";
    }
    auto r = run_with_input(cli, {"-p", port, "--pipe"}, input, harness::scaled(milliseconds(60000)));
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.status.clean());
    CHECK(r.out.find("errors: 0, replies: 100000") != std::string::npos);
    auto check =
        run_with_input(cli, {"-p", port}, "DBSIZE\nGET key:99999\n", harness::scaled(milliseconds(10000)));
    CHECK(check.out == "100000\nvalue:699993\n");
}

TEST_CASE("clients: redis-cli talks to stage04-redis over a unix socket") {
    std::string cli = require_program("redis-cli", "redis-tools");
    std::string path = "/tmp/stage04-redis-test-" + std::to_string(::getpid()) + ".sock";
    harness::ServerOptions options;
    options.path = stage04_path();
    options.listen = {"unix://" + path};
    auto server = harness::Server::start(options);
    auto r =
        run_with_input(cli, {"-s", path}, "SET k hello\nGET k\nPING\n", harness::scaled(milliseconds(10000)));
    CHECK(r.status.clean());
    CHECK(r.out == "OK\nhello\nPONG\n");
    CHECK(server->stop(harness::scaled(milliseconds(2000))).clean());
    CHECK(::access(path.c_str(), F_OK) != 0);  // the socket file is removed at exit
}
