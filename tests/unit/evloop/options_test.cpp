// Options at their edges: every value the header allows either works or is refused by
// serve() with an error naming the option. Nothing stalls, spins or overflows.
#include <sys/socket.h>
#include <cerrno>
#include <chrono>
#include <optional>

#include <thread>

#include "doctest/doctest.h"
#include "support.hpp"

using evloop::Action;
using evloop::Conn;
using namespace t;

namespace {

evloop::Events echo_events() {
    evloop::Events ev;
    ev.data = [](Conn c, std::string_view in) {
        c.write(in);
        return Action::none;
    };
    return ev;
}

// serve() on options that should be refused: the error, without binding anything useful.
evloop::Error serve_error(const evloop::Options& options) {
    evloop::Server server(echo_events(), options);
    return server.serve({"tcp://127.0.0.1:0"});
}

}  // namespace

TEST_CASE("reading resumes whatever high and low water marks are set, so a large echo completes") {
    // Only high_water set below the default low mark (the low mark used to stay above
    // the high one, so reading paused and never resumed), and a low mark of zero.
    struct Marks {
        std::size_t high;
        std::optional<std::size_t> low;
    };
    for (Marks m : {Marks{64 << 10, std::nullopt}, Marks{64 << 10, 0}, Marks{4096, 4095}}) {
        for (auto backend : backends()) {
            CAPTURE(std::string(evloop::backend_name(backend)));
            CAPTURE(m.high);
            evloop::Options opt{.backend = backend};
            opt.high_water = m.high;
            if (m.low) opt.low_water = *m.low;
            Running server(echo_events(), opt);
            Client c(server.url());
            auto sent = pattern(8 << 20);
            // Push without reading until the server pauses, so its output passes high water;
            // then read: the echo must resume as the output drains.
            std::size_t pushed = 0;
            for (int quiet = 0; quiet < 20 && pushed < sent.size();) {
                long n =
                    ::send(c.fd(), sent.data() + pushed, sent.size() - pushed, MSG_DONTWAIT | kNoSigPipe);
                if (n > 0) {
                    pushed += static_cast<std::size_t>(n);
                    quiet = 0;
                } else {
                    ++quiet;
                    std::this_thread::sleep_for(5ms);
                }
            }
            CHECK(c.exchange(std::string_view(sent).substr(pushed), sent.size()) == sent);
        }
    }
}

TEST_CASE("serve refuses options that cannot work and names the option") {
    evloop::Options low_over_high;
    low_over_high.high_water = 1000;
    low_over_high.low_water = 1000;
    auto err = serve_error(low_over_high);
    CHECK(err.code == EINVAL);
    CHECK(err.message.find("low_water") != std::string::npos);

    evloop::Options no_high;
    no_high.high_water = 0;
    CHECK(serve_error(no_high).message.find("high_water") != std::string::npos);

    evloop::Options negative;
    negative.idle_timeout = -std::chrono::seconds(1);
    CHECK(serve_error(negative).message.find("idle_timeout") != std::string::npos);

    evloop::Options zero_loops;
    zero_loops.loops = 0;
    CHECK(serve_error(zero_loops).message.find("loops") != std::string::npos);

    evloop::Options cap_below_high;
    cap_below_high.max_output = 1000;
    CHECK(serve_error(cap_below_high).message.find("max_output") != std::string::npos);
}

TEST_CASE("an idle timeout of Duration::max never fires and costs no CPU") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        auto ev = echo_events();
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend, .idle_timeout = evloop::Duration::max()});
        Client c(server.url());
        c.send("x");
        CHECK(c.recv_exact(1) == "x");
        double before = cpu_seconds();
        CHECK(c.silent_for(scaled(500ms)));  // not closed
        double used = cpu_seconds() - before;
        CAPTURE(used);
        CHECK(used < 0.05);  // a wrapped deadline made the loop spin on a zero timeout
        CHECK(log.entries().empty());
    }
}

TEST_CASE("a tick that asks for Duration::max runs once") {
    std::atomic<int> ticks{0};
    evloop::Events ev = echo_events();
    ev.tick = [&](evloop::Duration& delay) {
        ++ticks;
        delay = evloop::Duration::max();
        return Action::none;
    };
    Running server(ev, {});
    std::this_thread::sleep_for(scaled(300ms));
    CHECK(ticks.load() == 1);
}

TEST_CASE("a close timeout of Duration::max lets a half-closed connection answer late") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        evloop::Events ev;
        ev.eof = [](Conn c) {
            c.after(100ms, [](Conn later) {
                later.write("late");
                later.close();
            });
            return Action::none;
        };
        evloop::Options opt{.backend = backend};
        opt.close_timeout = evloop::Duration::max();
        Running server(ev, opt);
        Client c(server.url());
        c.shutdown_write();
        CHECK(c.recv_until_eof() == "late");
    }
}

TEST_CASE("a connection timer of Duration::max never fires") {
    Log log;
    evloop::Events ev;
    ev.opened = [&](Conn c, evloop::ConnOptions&) {
        c.after(evloop::Duration::max(), [&](Conn) { log.add("fired"); });
        c.after(50ms, [&](Conn) { log.add("short"); });
        return Action::none;
    };
    Running server(ev, {});
    Client c(server.url());
    CHECK(log.wait_count("short", 1));
    std::this_thread::sleep_for(scaled(200ms));
    CHECK(log.count("fired") == 0);
}

TEST_CASE("max_conns of SIZE_MAX is no cap at all") {
    Running server(echo_events(), {.max_conns = SIZE_MAX});
    Client a(server.url()), b(server.url());
    a.send("a");
    b.send("b");
    CHECK(a.recv_exact(1) == "a");
    CHECK(b.recv_exact(1) == "b");
}
