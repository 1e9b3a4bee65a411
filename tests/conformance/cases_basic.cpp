// The basic tier: what every stage must do, from the first. One client at a time is enough
// to pass it, but every byte must come back exactly, every way a client can leave (close,
// reset, half-close, vanish mid-echo) must leave the server serving and its descriptors
// freed, signals must not lose bytes, SIGTERM must stop it cleanly, and a bad address must
// be refused before anything is bound.
//
// Each case ends with the server still running (checked by harness::Case) and, for a server
// we started, holding no more descriptors than before the case. Adding a case: harness.hpp.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "harness/harness.hpp"

using namespace std::chrono_literals;
using namespace harness;

TEST_SUITE("basic") {
    TEST_CASE("one line is echoed") {
        Case c;
        if (c.skipped()) return;
        Conn conn = Conn::connect(c.address());
        const std::string line = "hello, echo server\n";
        conn.send_all(line);
        std::string echo = conn.recv_exact_string(line.size(), within(2s));
        CHECK_MESSAGE(echo == line, first_difference(echo, line));
    }

    TEST_CASE("all 256 byte values are echoed") {
        Case c;
        if (c.skipped()) return;
        // Up and down: NUL, CR, LF, 0x80 and 0xff in every neighbourhood, so a server that
        // treats data as C strings, lines or signed chars gets caught.
        std::string all;
        for (int i = 0; i < 256; ++i)
            all.push_back(static_cast<char>(i));
        for (int i = 255; i >= 0; --i)
            all.push_back(static_cast<char>(i));
        Conn conn = Conn::connect(c.address());
        conn.send_all(all);
        std::string echo = conn.recv_exact_string(all.size(), within(2s));
        CHECK_MESSAGE(echo == all, first_difference(echo, all));
    }

    TEST_CASE("4096 one-byte writes with TCP_NODELAY are echoed in order") {
        Case c;
        if (c.skipped()) return;
        // With Nagle off each byte leaves in its own segment, so the server sees many tiny
        // reads; the order of the bytes must survive them.
        Conn conn = Conn::connect(c.address(), {.nodelay = true});
        Pattern pattern(3);
        auto bytes = pattern.bytes(0, 4096);
        for (std::size_t i = 0; i < bytes.size(); ++i)
            conn.send_all(std::span(&bytes[i], 1));
        auto echo = conn.recv_exact(bytes.size(), within(5s));
        auto bad = pattern.first_mismatch(0, echo);
        CHECK_MESSAGE(!bad, "first wrong byte at offset " << (bad ? *bad : 0));
    }

    TEST_CASE("64 MiB written and read concurrently are echoed byte-exact") {
        Case c({.limit = 30s});
        if (c.skipped()) return;
        Conn conn = Conn::connect(c.address());
        auto r = exchange(conn, {.bytes = 64u << 20, .seed = 4, .deadline = within(25s)});
        CHECK_MESSAGE(r.ok(), r.describe());
    }

    TEST_CASE("after 8 MiB and a half-close every byte comes back then a clean EOF") {
        Case c;
        if (c.skipped()) return;
        // shutdown(SHUT_WR) sends our FIN while the echo is still flowing: the server must
        // write back everything it read and then close, so that recv returns 0. A server
        // that closes with unsent output, or with unread input, makes the kernel send RST
        // and recv fail with ECONNRESET (tcp(7)).
        Conn conn = Conn::connect(c.address());
        auto r = exchange(conn, {.bytes = 8u << 20,
                                 .seed = 5,
                                 .shutdown_after_send = true,
                                 .expect_eof = true,
                                 .deadline = within(8s)});
        CHECK_MESSAGE(r.ok(), r.describe());
    }

    TEST_CASE("echo still held by the server at a half-close comes back in full before a clean EOF") {
        Case c({.limit = 20s});
        if (c.skipped()) return;
        // The client reads nothing until the server holds echo it cannot write, half-closes,
        // and waits for the server to see the EOF; only then does it read. A server that
        // closes on EOF without flushing its output loses what it held, and the client sees
        // a clean EOF too early. The case above cannot tell: its client reads all along.
        // Nothing deadlocks a blocking server: it sleeps in write() until the client reads.
        Conn conn = Conn::connect(c.address());
        Pattern pattern(13);
        auto filled = fill_until_held(conn, pattern, c.server(), within(10s));
        auto at_eof = half_close_and_settle(conn, filled.sent, c.server(), within(2s));
        INFO("when the client started reading: " << at_eof.describe());
        auto rest = conn.read_until_eof(within(10s));
        auto bad = pattern.first_mismatch(
            0, std::span(reinterpret_cast<const std::uint8_t*>(rest.data.data()), rest.data.size()));
        CHECK_MESSAGE(rest.data.size() == filled.sent,
                      rest.data.size() << " of " << filled.sent << " bytes came back, then "
                                       << std::string(end_kind_name(rest.end)));
        CHECK_MESSAGE(!bad, "first wrong byte at offset " << (bad ? *bad : 0));
        CHECK_MESSAGE(rest.end == EndKind::eof, "after the echo: " << std::string(end_kind_name(rest.end)));
    }

    TEST_CASE("100 connections that close without data leave the server serving") {
        Case c;
        if (c.skipped()) return;
        // Half at once, half one after another: the server sees EOF as its first read.
        std::vector<Conn> batch;
        for (int i = 0; i < 50; ++i)
            batch.push_back(Conn::connect(c.address()));
        batch.clear();
        for (int i = 0; i < 50; ++i)
            Conn::connect(c.address()).close();
        check_echo(c.address(), 64, within(3s));
    }

    TEST_CASE("200 clients that send 64 KiB and then reset leave the server serving") {
        Case c;
        if (c.skipped()) return;
        Swarm swarm(c.address());
        for (int i = 0; i < 200; ++i)
            swarm.add({.steps = {Step::push(64 * 1024, scaled(200ms)), Step::reset()}, .drain = false});
        auto r = swarm.run({.deadline = within(5s)});
        CHECK_MESSAGE(r.ok(), r.describe());
        check_echo(c.address(), 64, within(3s));
    }

    TEST_CASE("50 clients that push 4 MiB without reading and then reset do not kill the server") {
        Case c({.limit = 20s});
        if (c.skipped()) return;
        // The echo fills each client's receive buffer, the server's writes block or fail
        // with EAGAIN, and then the client resets: the server's next write fails.
        Swarm swarm(c.address());
        for (int i = 0; i < 50; ++i)
            swarm.add({.steps = {Step::push(4u << 20, scaled(100ms)), Step::reset()}, .drain = false});
        auto r = swarm.run({.deadline = within(12s)});
        CHECK_MESSAGE(r.ok(), r.describe());
        // That write fails with EPIPE, which raises SIGPIPE and with it at its default action
        // kills the server (send(2)), when the reset came after the client's FIN: tcp_reset()
        // reports EPIPE in CLOSE_WAIT and ECONNRESET before it. The swarm gets there only by
        // chance, so each kind of server is made to write in that state.
        for (std::uint64_t i = 0; i < 3; ++i)
            reset_while_server_holds_echo(c.address(), c.server(), 700 + i);
        for (std::uint64_t i = 0; i < 3; ++i)
            reset_before_server_reads(c.address(), c.server(), 800 + i);
        check_echo(c.address(), 64, within(3s));
    }

    TEST_CASE("20 SIGSTOP and SIGCONT pairs during a connection lose no bytes") {
        Case c({.needs_own_server = true});
        if (c.skipped()) return;
        // A stopped and continued process can see EINTR from a blocking call even though
        // it installed no handler (signal(7), "Interruption of system calls and library
        // functions by stop signals"): epoll_wait is one such call.
        Server& server = *c.server();
        Conn conn = Conn::connect(c.address());
        Pattern pattern(9);
        std::uint64_t offset = 0;
        for (int i = 0; i < 20; ++i) {
            CAPTURE(i);
            // Even rounds stop the server while it waits for input and queue our bytes
            // while it is stopped; odd rounds stop it while it is blocked writing an echo
            // we have not read yet.
            std::uint64_t chunk = i % 2 == 0 ? 32 * 1024 : 1024 * 1024;
            auto bytes = pattern.bytes(offset, chunk);
            std::uint64_t presend = 0;
            auto push = [&] {
                while (presend < chunk) {
                    std::size_t n = conn.send_now(std::span(bytes).subspan(presend));
                    if (n == 0) break;
                    presend += n;
                }
            };
            if (i % 2 == 1) push();
            server.signal(SIGSTOP);
            REQUIRE_MESSAGE(server.wait_for_state('T', scaled(2s)), "the server did not stop after SIGSTOP");
            if (i % 2 == 0) push();
            server.signal(SIGCONT);
            auto r = exchange(conn, {.bytes = chunk,
                                     .seed = 9,
                                     .deadline = within(5s),
                                     .offset = offset,
                                     .already_sent = presend});
            REQUIRE_MESSAGE(r.ok(), r.describe());
            offset += chunk;
        }
    }

    TEST_CASE("4000 sequential connections under a 64 descriptor limit end with the fd count at baseline") {
        Case c({.limit = 30s, .nofile_soft = 64, .nofile_hard = 64});
        if (c.skipped()) return;
        // With only 64 descriptors a server that leaks one per connection, or per close
        // mode, runs out long before the end. Each way a client can leave is used in turn.
        const char* modes[] = {"echo then close", "send then reset", "close without data",
                               "reset without data", "send then half-close and read to EOF"};
        Pattern pattern(10);
        for (int i = 0; i < 4000; ++i) {
            int mode = i % 5;
            try {
                Conn conn = Conn::connect(c.address(), {}, within(2s));
                auto bytes = pattern.bytes(static_cast<std::uint64_t>(i) * 100, 100);
                switch (mode) {
                    case 0:
                        round_trip(conn, pattern, static_cast<std::uint64_t>(i) * 100, 100, within(2s));
                        conn.close();
                        break;
                    case 1:
                        conn.send_all(bytes, within(2s));
                        conn.reset();
                        break;
                    case 2:
                        conn.close();
                        break;
                    case 3:
                        conn.reset();
                        break;
                    case 4: {
                        conn.send_all(bytes, within(2s));
                        conn.shutdown_write();
                        auto rest = conn.read_until_eof(within(2s));
                        std::string want(bytes.begin(), bytes.end());
                        if (rest.end != EndKind::eof || rest.data != want)
                            throw Failure(
                                std::to_string(rest.data.size()) + " of 100 bytes back (" +
                                (rest.data == want.substr(0, rest.data.size()) ? "correct" : "wrong") +
                                "), then " + std::string(end_kind_name(rest.end)));
                        break;
                    }
                }
            } catch (const Failure& f) {
                FAIL("connection " << i << " (" << std::string(modes[mode])
                                   << "): " << std::string(f.what()));
            }
        }
    }

    TEST_CASE("SIGTERM exits 0 within 2 s and a restart on the same port binds" *
              doctest::description("serial")) {
        Case c({.needs_own_server = true, .expect_alive = false});
        if (c.skipped()) return;
        Server& server = *c.server();
        const std::uint16_t port = c.address().port;
        {
            // A client in mid-conversation: the server is blocked on it, not in accept.
            Conn conn = Conn::connect(c.address());
            round_trip(conn, Pattern(11), 0, 100, within(2s));
            auto start = Clock::now();
            ExitStatus status = server.stop(scaled(2s));
            auto took = Clock::now() - start;
            REQUIRE_MESSAGE(!status.timed_out, "still running 2 s after SIGTERM");
            CHECK_MESSAGE(status.clean(), "after SIGTERM: " << status.describe());
            CHECK(to_ms(took) <= static_cast<double>(scaled(2s).count()));
        }
        // The connection the server just closed sits in TIME_WAIT on its port: only
        // SO_REUSEADDR lets a new listener bind it at once (socket(7)).
        auto options = c.server_options();
        options.listen = {"tcp://127.0.0.1:" + std::to_string(port)};
        auto again = c.start_server(options);
        CHECK(again->address().port == port);
        check_echo(again->address(), 64, within(2s));
        // And stopping an idle server, blocked in accept rather than in a read.
        ExitStatus status = again->stop(scaled(2s));
        CHECK_MESSAGE(status.clean(), "the restarted server after SIGTERM: " << status.describe());
    }

    TEST_CASE(
        "SIGTERM while the server is blocked writing to a client that does not read exits 0 within 2 s" *
        doctest::description("serial")) {
        Case c({.needs_own_server = true, .expect_alive = false});
        if (c.skipped()) return;
        Server& server = *c.server();
        // The way back to the client is full, so a blocking server sleeps in write(). A
        // signal that cuts short a write which has copied some bytes makes it return that
        // count, not EINTR (signal(7)): a loop that looks for a stop request only on EINTR
        // writes again and sleeps for ever.
        Conn conn = Conn::connect(c.address());
        auto b = fill_until_held(conn, Pattern(12), &server, within(10s));
        INFO("before SIGTERM: " << b.describe());
        auto start = Clock::now();
        ExitStatus status = server.stop(scaled(2s));
        auto took = Clock::now() - start;
        REQUIRE_MESSAGE(!status.timed_out, "still running 2 s after SIGTERM");
        CHECK_MESSAGE(status.clean(), "after SIGTERM: " << status.describe());
        CHECK(to_ms(took) <= static_cast<double>(scaled(2s).count()));
    }

    TEST_CASE("each malformed listen address exits 2 with a message and nothing listening") {
        Case c({.needs_own_server = true, .start_server = false});
        if (c.skipped()) return;
        // What libc would quietly accept: ports wrapped modulo 65536 by getaddrinfo,
        // octal and short IPv4 from inet_aton, atoi's trailing garbage.
        const char* bad[] = {
            "tcp://127.0.0.1:65536",
            "tcp://127.0.0.1:70000",
            "tcp://127.0.0.1:80x",
            "tcp://127.0.0.1:-1",
            "tcp://127.0.0.1:",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:0080",
            "tcp://0127.0.0.1:0",
            "tcp://127.1:0",
            "tcp://256.0.0.1:0",
            "tcp://::1:0",
            "tcp://[::1:0",
            "tcp://example.invalid:0",
            "ftp://127.0.0.1:0",
            "127.0.0.1:0",
            "tcp://127.0.0.1:0\r\n",
            "tcp://127.0.0.1:0?reuseport=maybe",
            "",
        };
        for (const char* address : bad) {
            auto args = c.server_options().args;
            args.insert(args.end(), {"--listen", address});
            auto r = run_to_exit(target().server_path, args, scaled(2s), "listening on ");
            INFO("--listen '" << std::string(address) << "': " << r.status.describe()
                              << ", stderr: " << r.err);
            CHECK(r.out.find("listening on") == std::string::npos);
            CHECK((r.status.exited && r.status.code == 2));
            CHECK(!r.err.empty());
        }
    }
}
