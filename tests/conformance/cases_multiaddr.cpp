// The multiaddr tier: one server on many addresses at once (tcp4, tcp6, unix, udp), dual
// stack on one port, UDP datagram boundaries, the unix socket file rules (a stale socket is
// taken over, a live one or a regular file is refused and left as it was, sun_path's length is
// checked before anything is created), and several loops with each balance mode. Stage 04 is
// the first stage built for these; the cases that need its own flags (--loops, --balance,
// --trace) say so in their names.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "harness/harness.hpp"

using namespace std::chrono_literals;
using namespace harness;

TEST_SUITE("multiaddr") {
    TEST_CASE("tcp4 tcp6 unix and udp listeners on one server each echo their own traffic") {
        Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string path = unix_socket_path("mix");
        auto server =
            c.start_server(c.server_options({"tcp4://127.0.0.1:0", "tcp6://[::1]:0", "unix://" + path,
                                             "udp4://127.0.0.1:0", "udp6://[::1]:0"}));
        const auto& a = server->addresses();
        REQUIRE(a.size() == 5);
        check_echo(a[0], 4096, within(2s));
        check_echo(a[1], 4096, within(2s));
        check_echo(a[2], 4096, within(2s));
        check_udp_echo(a[3], 512, 4);
        check_udp_echo(a[4], 512, 5);
        auto status = server->stop(scaled(2s));
        CHECK_MESSAGE(status.clean(), status.describe());
        CHECK_MESSAGE(!path_exists(path), "the unix socket file " << path << " was left behind");
    }

    TEST_CASE("dual stack listeners on :: and 0.0.0.0 with one port both bind and both echo") {
        Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        auto port = std::to_string(free_dual_stack_port());
        auto server = c.start_server(c.server_options({"tcp6://[::]:" + port, "tcp4://0.0.0.0:" + port}));
        REQUIRE(server->addresses().size() == 2);
        std::string why;
        check_echo(*common::parse_address("tcp6://[::1]:" + port, &why), 4096, within(2s));
        check_echo(*common::parse_address("tcp4://127.0.0.1:" + port, &why), 4096, within(2s));
    }

    TEST_CASE("UDP datagrams of 0 1 1472 9216 and 65507 bytes on IPv4 and 65527 on IPv6 come back whole") {
        Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        auto server = c.start_server(c.server_options({"udp4://127.0.0.1:0", "udp6://[::1]:0"}));
        REQUIRE(server->addresses().size() == 2);
        std::uint64_t seed = 20;
        for (std::size_t size : {0, 1, 1472, 9216, 65507}) {
            CAPTURE(size);
            check_udp_echo(server->addresses()[0], size, ++seed);
        }
        check_udp_echo(server->addresses()[1], 65527, ++seed);
    }

    TEST_CASE("100 UDP clients that vanish before the reply leave the server serving a fresh one") {
        Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        auto server = c.start_server(c.server_options({"udp://127.0.0.1:0"}));
        for (int i = 0; i < 100; ++i) {
            Udp gone(server->addresses()[0]);
            gone.send(Pattern(static_cast<std::uint64_t>(100 + i)).text(0, 256));
        }  // each socket closes before its reply: the replies bounce with ICMP port unreachable
        check_udp_echo(server->addresses()[0], 256, 300);
        CHECK(server->alive());
    }

    TEST_CASE("a unix socket path left stale by kill -9 is taken over by a restart") {
        Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string path = unix_socket_path("stale");
        auto first = c.start_server(c.server_options({"unix://" + path}));
        first->kill();
        REQUIRE_MESSAGE(path_exists(path), "SIGKILL should have left " << path << " behind");
        auto second = c.start_server(c.server_options({"unix://" + path}));
        check_echo(second->addresses()[0], 4096, within(2s));
        second->stop(scaled(2s));
        CHECK(!path_exists(path));
    }

    TEST_CASE("a unix path held by a live server or a regular file is refused and left untouched") {
        Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string live = unix_socket_path("live");
        auto owner = c.start_server(c.server_options({"unix://" + live}));
        auto args = c.server_options().args;
        auto refused = [&](const std::string& path) {
            auto a = args;
            a.insert(a.end(), {"--listen", "unix://" + path});
            auto r = run_to_exit(target().server_path, a, scaled(2s), "listening on ");
            INFO("unix://" << path << ": " << r.status.describe() << ", stderr: " << r.err);
            CHECK((r.status.exited && r.status.code == 1));
            CHECK(r.out.find("listening on") == std::string::npos);
        };
        refused(live);
        check_echo(owner->addresses()[0], 4096, within(2s));  // the owner still has its address
        std::string file = unix_socket_path("file");
        { std::ofstream(file) << "precious"; }
        refused(file);
        std::ifstream in(file);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(content == "precious");
        ::unlink(file.c_str());
    }

    TEST_CASE("a 107 byte unix path works and a 108 byte one is refused with nothing created") {
        Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string fits = unix_socket_path_of_length(107, 'a');
        std::string too_long = unix_socket_path_of_length(108, 'b');
        REQUIRE(fits.size() == 107);
        auto server = c.start_server(c.server_options({"unix://" + fits}));
        check_echo(server->addresses()[0], 4096, within(2s));
        server->stop(scaled(2s));
        auto args = c.server_options().args;
        args.insert(args.end(), {"--listen", "unix://" + too_long});
        auto r = run_to_exit(target().server_path, args, scaled(2s), "listening on ");
        INFO(r.status.describe() << ", stderr: " << r.err);
        CHECK(!(r.status.exited && r.status.code == 0));
        CHECK(r.out.find("listening on") == std::string::npos);
        CHECK(!path_exists(too_long));
    }

    TEST_CASE("with --loops 4 each --balance mode gives every loop at least 10 percent of 1000 connections" *
              doctest::description("serial")) {
        Case c({.limit = 60s, .needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        for (std::string mode : {"round-robin", "random", "least-connections"}) {
            CAPTURE(mode);
            auto options = c.server_options();
            options.args.insert(options.args.end(), {"--loops", "4", "--balance", mode, "--trace"});
            auto server = c.start_server(options);
            Swarm swarm(server->address());
            for (int i = 0; i < 1000; ++i)
                swarm.add({.steps = {Step::round_trip(16), Step::wait(500ms)}});
            auto result = swarm.run({.connects_per_second = 4000, .deadline = within(15s)});
            REQUIRE_MESSAGE(result.ok(), result.describe());
            // --trace names the loop that opens each connection: "loop N: fd F opened".
            std::map<int, int> per_loop;
            std::string text = server->stderr_text();
            std::regex opened("loop ([0-9]+): fd [0-9]+ opened");
            for (auto it = std::sregex_iterator(text.begin(), text.end(), opened);
                 it != std::sregex_iterator(); ++it)
                ++per_loop[std::stoi((*it)[1])];
            REQUIRE_MESSAGE(per_loop.size() == 4,
                            "connections were opened on " << per_loop.size() << " loops");
            for (const auto& entry : per_loop) {
                INFO("loop " << entry.first << " opened " << entry.second << " of 1000");
                CHECK(entry.second >= 100);
            }
            double share = server->cpu_fraction_over(1s);
            CHECK_MESSAGE(share < 0.02, "idle afterwards, the server used " << share * 100 << "% of a CPU");
        }
    }
}
