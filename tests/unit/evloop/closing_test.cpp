// Closing without losing the reply. close(2) on a socket whose receive queue still holds
// input sends a reset and drops whatever the kernel had not yet delivered of the reply,
// so "flush, then close" must shut the write side first and drain the input. And closed's
// error says truthfully how it went.
#include <cerrno>
#include <thread>

#include "doctest/doctest.h"
#include "support.hpp"

using evloop::Action;
using evloop::Conn;
using namespace t;

namespace {

// A client sends its first request; the server answers it with 16 MiB and Action::close.
// Once `before` bytes of the reply have arrived the client sends a second request, which
// the application never reads, then reads the rest. The reply must arrive whole, with a
// clean end and `closed` saying 0.
void reply_then_close(std::size_t before, ms pause) {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        const std::string reply = pattern(16 << 20);
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view) {
            c.write(reply);
            return Action::close;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.send("first request");
        std::string got = c.recv_exact(before);
        std::this_thread::sleep_for(pause);
        c.send("a second request");
        bool reset = false;
        got += c.exchange("", SIZE_MAX, scaled(10000ms), &reset);
        CHECK_FALSE(reset);
        CHECK(got.size() == reply.size());
        CHECK(got == reply);
        c.close();
        CHECK(log.wait_count("closed 0", 1));
    }
}

}  // namespace

TEST_CASE("a reply followed by Action::close arrives whole although more input arrives behind it") {
    // The second request arrives while the server is still sending the reply.
    reply_then_close(1 << 20, ms(0));
}

TEST_CASE("input that arrives once the whole reply is in the kernel does not reset it away") {
    // The reply has left the library (the kernel holds its last megabytes) when the peer's
    // next request arrives. Had the server closed already, that request would draw a
    // reset, and the reset would destroy what the kernel had not delivered yet: the server
    // must linger, reading, until the peer has it all.
    reply_then_close(12 << 20, scaled(100ms));
}

TEST_CASE("stop drains every echoed byte before closing, and closed says 0 only when it did") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        std::mutex mutex;
        std::size_t written = 0;
        int closed_error = -1;
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view in) {
            c.write(in);
            std::lock_guard lock(mutex);
            written += in.size();
            return Action::none;
        };
        ev.closed = [&](Conn, int error) {
            std::lock_guard lock(mutex);
            closed_error = error;
        };
        evloop::Options opt{.backend = backend};
        opt.stop_timeout = scaled(5000ms);
        Running server(ev, opt);
        Client c(server.url());
        // Fill both directions without reading: the server pauses reading once its output
        // passes high water, so input is left waiting in its receive queue.
        std::string push = pattern(8 << 20);
        std::size_t pushed = 0;
        while (pushed < push.size()) {
            long n = ::send(c.fd(), push.data() + pushed, push.size() - pushed, MSG_DONTWAIT | kNoSigPipe);
            if (n <= 0) break;
            pushed += static_cast<std::size_t>(n);
        }
        REQUIRE(pushed > (1u << 20));
        std::this_thread::sleep_for(scaled(200ms));
        server.stop();
        bool reset = false;
        std::string got = c.exchange("", SIZE_MAX, scaled(10000ms), &reset);
        REQUIRE(server.wait_returned(scaled(6000ms)));
        std::lock_guard lock(mutex);
        CAPTURE(written);
        CAPTURE(got.size());
        CHECK(closed_error == 0);
        CHECK_FALSE(reset);
        CHECK(got.size() == written);
        CHECK(got == push.substr(0, got.size()));
    }
}

TEST_CASE("after shutdown_write the peer reads EOF while its data still reaches the server") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.opened = [](Conn c, evloop::ConnOptions&) {
            c.write("bye");
            c.shutdown_write();
            return Action::none;
        };
        ev.data = [&](Conn, std::string_view in) {
            log.add("data " + std::string(in));
            return Action::none;
        };
        ev.eof = [&](Conn) {
            log.add("eof");
            return Action::none;  // both directions are done: the library closes
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        CHECK(c.recv_until_eof() == "bye");
        c.send("still talking");
        REQUIRE(log.wait_count("data still talking", 1));
        c.shutdown_write();
        CHECK(log.wait_count("closed 0", 1));
        CHECK(log.count("eof") == 1);
    }
}

TEST_CASE("reset drops pending output, the peer sees a reset, and closed says ECONNABORTED") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view) {
            c.write(std::string(8 << 20, 'r'));  // far more than the socket takes at once
            c.reset();
            return Action::none;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.send("go");
        bool reset = false;
        std::string got = c.exchange("", SIZE_MAX, scaled(5000ms), &reset);
        CHECK(reset);
        CHECK(got.size() < (8u << 20));
        CHECK(log.wait_count("closed " + std::to_string(ECONNABORTED), 1));
    }
}

TEST_CASE("a half-closed connection waiting for its application hears a reset at once") {
    // Not reading (the peer has finished) and nothing to write: the connection asks the
    // poller for nothing, and must still learn that the peer reset, well before the close
    // timeout would end it.
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.eof = [&](Conn) {
            log.add("eof");
            return Action::none;  // waiting for something that never comes
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        evloop::Options opt{.backend = backend};
        opt.close_timeout = std::chrono::seconds(60);
        Running server(ev, opt);
        Client c(server.url());
        c.shutdown_write();
        REQUIRE(log.wait_count("eof", 1));
        c.reset();
        // Linux reports a reset in CLOSE_WAIT as EPIPE, elsewhere as ECONNRESET.
        CHECK(log.wait_for(
            [](const auto& e) {
                for (const auto& entry : e)
                    if (entry == "closed " + std::to_string(ECONNRESET) ||
                        entry == "closed " + std::to_string(EPIPE))
                        return true;
                return false;
            },
            scaled(2000ms)));
    }
}
