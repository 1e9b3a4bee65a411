// The multiaddr tier, unix sockets: an existing path is taken over only when it is a
// stale socket (kill -9 leaves one behind); a live server's socket or a regular file is
// refused and left as it was; sun_path's length is a hard limit, checked before anything
// is created.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace std::chrono_literals;
using harness::Conn;
using harness::Deadline;
using harness::Pattern;
using harness::scaled;
using harness::within;

namespace {

std::string unix_path(const std::string& tag) {
    return "/tmp/evloop-mu-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

void check_stream_echo(const common::Address& address, std::uint64_t seed) {
    Conn conn = Conn::connect(address, {}, within(2s));
    harness::round_trip(conn, Pattern(seed), 0, 4096, within(2s));
}

harness::ServerOptions options_with(const harness::Case& c, std::vector<std::string> listen) {
    auto o = c.server_options();
    o.listen = std::move(listen);
    return o;
}

}  // namespace

TEST_SUITE("multiaddr") {
    TEST_CASE("a unix socket path left stale by kill -9 is taken over by a restart") {
        harness::Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string path = unix_path("stale");
        auto first = c.start_server(options_with(c, {"unix://" + path}));
        first->kill();
        REQUIRE_MESSAGE(exists(path), "SIGKILL should have left " << path << " behind");
        auto second = c.start_server(options_with(c, {"unix://" + path}));
        check_stream_echo(second->addresses()[0], 40);
        second->stop(scaled(2s));
        CHECK(!exists(path));
    }

    TEST_CASE("a unix path held by a live server or a regular file is refused and left untouched") {
        harness::Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string live = unix_path("live");
        auto owner = c.start_server(options_with(c, {"unix://" + live}));
        auto args = c.server_options().args;
        auto refused = [&](const std::string& path) {
            auto a = args;
            a.insert(a.end(), {"--listen", "unix://" + path});
            auto r = harness::run_to_exit(harness::target().server_path, a, scaled(2s), "listening on ");
            INFO("unix://" << path << ": " << r.status.describe() << ", stderr: " << r.err);
            CHECK((r.status.exited && r.status.code == 1));
            CHECK(r.out.find("listening on") == std::string::npos);
        };
        refused(live);
        check_stream_echo(owner->addresses()[0], 50);  // the owner still has its address
        std::string file = unix_path("file");
        { std::ofstream(file) << "precious"; }
        refused(file);
        std::ifstream in(file);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(content == "precious");
        ::unlink(file.c_str());
    }

    TEST_CASE("a 107 byte unix path works and a 108 byte one is refused with nothing created") {
        harness::Case c({.needs_own_server = true, .start_server = false, .check_fds = false});
        if (c.skipped()) return;
        std::string base = "/tmp/evloop-mu-" + std::to_string(::getpid()) + "-";
        std::string fits = base + std::string(107 - base.size(), 'a');
        std::string too_long = base + std::string(108 - base.size(), 'b');
        REQUIRE(fits.size() == 107);
        auto server = c.start_server(options_with(c, {"unix://" + fits}));
        check_stream_echo(server->addresses()[0], 60);
        server->stop(scaled(2s));
        auto args = c.server_options().args;
        args.insert(args.end(), {"--listen", "unix://" + too_long});
        auto r = harness::run_to_exit(harness::target().server_path, args, scaled(2s), "listening on ");
        INFO(r.status.describe() << ", stderr: " << r.err);
        CHECK(!(r.status.exited && r.status.code == 0));
        CHECK(r.out.find("listening on") == std::string::npos);
        CHECK(!exists(too_long));
    }
}
