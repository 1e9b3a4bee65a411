// Flow control and limits: backpressure, streaming with drained, idle timeouts,
// connection caps.
#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>

#include "doctest/doctest.h"
#include "support.hpp"

using namespace t;
using evloop::Action;
using evloop::Conn;

TEST_CASE("reading pauses above the high water mark, so a peer that never reads cannot grow the server") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        std::atomic<std::size_t> peak{0};
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view in) {
            c.write(in);
            std::size_t p = c.pending_output();
            std::size_t old = peak.load();
            while (p > old && !peak.compare_exchange_weak(old, p)) {
            }
            return Action::none;
        };
        evloop::Options opt{.backend = backend};
        opt.high_water = 256 << 10;
        opt.low_water = 64 << 10;
        Running server(ev, opt);
        Client c(server.url());
        ::fcntl(c.fd(), F_SETFL, O_NONBLOCK);
        std::string chunk(64 << 10, 'p');
        std::size_t sent = 0;
        auto deadline = std::chrono::steady_clock::now() + scaled(3000ms);
        while (std::chrono::steady_clock::now() < deadline) {  // until both directions' buffers are full
            long n = ::send(c.fd(), chunk.data(), chunk.size(), kNoSigPipe);
            if (n > 0)
                sent += static_cast<std::size_t>(n);
            else
                std::this_thread::sleep_for(10ms);
        }
        CHECK(sent > opt.high_water);                  // the server took in more than its mark...
        CHECK(peak.load() <= opt.high_water + 65536);  // ...but held at most one read past it
    }
}

TEST_CASE(
    "with pause_on_high_water off a connection is still read while its own output is above high water") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        for (bool pause : {true, false}) {
            CAPTURE(pause);
            std::atomic<std::size_t> peak{0}, drained{0};
            evloop::Events ev;
            ev.opened = [pause](Conn, evloop::ConnOptions& o) {
                o.pause_on_high_water = pause;
                return Action::none;
            };
            ev.data = [&](Conn c, std::string_view in) {
                c.write(in);
                peak = std::max(peak.load(), c.pending_output());
                return Action::none;
            };
            ev.drained = [&](Conn) { ++drained; };
            evloop::Options opt{.backend = backend};
            opt.high_water = 256 << 10;
            Running server(ev, opt);
            Client c(server.url());
            ::fcntl(c.fd(), F_SETFL, O_NONBLOCK);
            std::string chunk(64 << 10, 'q');
            constexpr std::size_t kPush = 16u << 20;  // more than the kernel's buffers hold
            std::size_t sent = 0;
            // Until it is all sent, or nothing has gone out for a while: the server stopped reading.
            auto deadline = std::chrono::steady_clock::now() + scaled(3000ms);
            auto progress = std::chrono::steady_clock::now();
            while (sent < kPush && std::chrono::steady_clock::now() < deadline &&
                   std::chrono::steady_clock::now() - progress < scaled(500ms)) {
                long n = ::send(c.fd(), chunk.data(), chunk.size(), kNoSigPipe);
                if (n > 0) {
                    sent += static_cast<std::size_t>(n);
                    progress = std::chrono::steady_clock::now();
                } else {
                    std::this_thread::sleep_for(1ms);
                }
            }
            MESSAGE("sent " << sent << ", peak output " << peak.load());
            if (pause) {
                CHECK(peak.load() <= opt.high_water + 65536);  // stopped reading at the mark
            } else {
                CHECK(sent >= kPush);  // it kept reading, so the client could send it all
                CHECK(peak.load() > 4 * opt.high_water);
            }
            // Either way drained comes, once the client reads what was held for it.
            ::fcntl(c.fd(), F_SETFL, 0);
            c.shutdown_write();
            std::string all = c.recv_until_eof(scaled(10000ms));
            CHECK(all.size() == sent);
            CHECK(drained.load() >= 1);
        }
    }
}

TEST_CASE("drained streams 64 MiB to a slow reader with bounded pending output") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        constexpr std::size_t kTotal = 64u << 20, kChunk = 256u << 10;
        std::atomic<std::size_t> peak{0};
        struct Progress {
            std::size_t written = 0;
        };
        auto feed = [&](Conn c) {
            auto& p = std::any_cast<Progress&>(c.context());
            while (p.written < kTotal && c.pending_output() < (512u << 10)) {
                std::string chunk(kChunk, static_cast<char>('a' + (p.written / kChunk) % 26));
                c.write(chunk);
                p.written += kChunk;
            }
            peak = std::max(peak.load(), c.pending_output());
            if (p.written == kTotal) c.close();
        };
        evloop::Events ev;
        ev.opened = [&](Conn c, evloop::ConnOptions&) {
            c.context() = Progress{};
            feed(c);
            return Action::none;
        };
        ev.drained = feed;
        Running server(ev, {.backend = backend});
        Client c(server.url());
        auto got = c.recv_until_eof(scaled(30000ms));
        REQUIRE(got.size() == kTotal);
        for (std::size_t i = 0; i < kTotal; i += kChunk)
            REQUIRE(got[i] == static_cast<char>('a' + (i / kChunk) % 26));
        CHECK(peak.load() <= (512u << 10) + kChunk);
    }
}

TEST_CASE("an idle connection is closed with ETIMEDOUT while a trickling one survives") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [](Conn c, std::string_view in) {
            c.write(in);
            return Action::none;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        Running server(ev, {.backend = backend, .idle_timeout = scaled(300ms)});
        Client idle(server.url()), busy(server.url());
        auto start = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - start < scaled(900ms)) {
            busy.send("t");
            REQUIRE(busy.recv_exact(1) == "t");
            std::this_thread::sleep_for(scaled(100ms));
        }
        CHECK(idle.recv_until_eof(scaled(100ms)) == "");
        CHECK(log.count("closed " + std::to_string(ETIMEDOUT)) == 1);
        busy.send("!");
        CHECK(busy.recv_exact(1) == "!");
    }
}

TEST_CASE("over max_conns a new connection is closed at once and a slot frees when one leaves") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [](Conn c, std::string_view in) {
            c.write(in);
            return Action::none;
        };
        ev.closed = [&](Conn, int) { log.add("closed"); };
        Running server(ev, {.loops = 2, .backend = backend, .max_conns = 3});
        std::vector<std::unique_ptr<Client>> kept;
        for (int i = 0; i < 3; ++i) {
            kept.push_back(std::make_unique<Client>(server.url()));
            kept.back()->send("k");
            REQUIRE(kept.back()->recv_exact(1) == "k");
        }
        Client over(server.url());
        CHECK(over.recv_until_eof(scaled(1000ms)) == "");
        kept.pop_back();
        REQUIRE(log.wait_count("closed", 1));
        Client again(server.url());
        again.send("a");
        CHECK(again.recv_exact(1) == "a");
    }
}
