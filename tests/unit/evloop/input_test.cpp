// Input the application leaves unconsumed: kept, presented again first at the next data
// event (or a wake) with the newer bytes behind it, and bounded by max_input.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <cerrno>

#include <set>
#include <thread>

#include "doctest/doctest.h"
#include "support.hpp"

using evloop::Action;
using evloop::Conn;
using namespace t;

namespace {

std::string frame(std::string_view body) {
    std::string out(4, '\0');
    auto n = static_cast<std::uint32_t>(body.size());
    for (int i = 0; i < 4; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
    return out.append(body);
}

// The header's example: a length-prefixed protocol that answers each frame with its body.
evloop::Events frame_echo(std::vector<std::size_t>* sizes_seen) {
    evloop::Events ev;
    ev.data = [sizes_seen](Conn c, std::string_view in) {
        if (sizes_seen) sizes_seen->push_back(in.size());
        while (in.size() >= 4) {
            auto* p = reinterpret_cast<const unsigned char*>(in.data());
            std::size_t len =
                std::size_t(p[0]) << 24 | std::size_t(p[1]) << 16 | std::size_t(p[2]) << 8 | p[3];
            if (in.size() < 4 + len) break;
            c.write(in.substr(4, len));
            in.remove_prefix(4 + len);
        }
        c.keep(in.size());
        return Action::none;
    };
    return ev;
}

}  // namespace

TEST_CASE("frames split across reads at every byte are reassembled from kept input") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Running server(frame_echo(nullptr), {.backend = backend});
        Client c(server.url());
        int one = 1;
        ::setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::string wire = frame("hello") + frame("") + frame(pattern(100000)) + frame("!");
        for (char ch : wire.substr(0, 64)) {  // byte by byte at first
            c.send(std::string_view(&ch, 1));
            std::this_thread::sleep_for(1ms);
        }
        c.send(std::string_view(wire).substr(64));
        CHECK(c.recv_exact(5 + 100000 + 1) == "hello" + pattern(100000) + "!");
    }
}

TEST_CASE("kept input comes first at the next event, and nothing kept means nothing comes back") {
    std::vector<std::size_t> sizes;
    Running server(frame_echo(&sizes), {});
    Client c(server.url());
    std::string f = frame("abcdef");
    c.send(f.substr(0, 3));  // not even a whole header
    std::this_thread::sleep_for(scaled(100ms));
    c.send(f.substr(3, 4));
    std::this_thread::sleep_for(scaled(100ms));
    c.send(f.substr(7) + frame("xy"));
    CHECK(c.recv_exact(8) == "abcdefxy");
    // 3 new, then 3 kept + 4 new, then 7 kept + 3 + 6 new; each consumed in full at the end.
    CHECK(sizes == std::vector<std::size_t>{3, 7, 16});
}

TEST_CASE("a wake presents what was kept without new bytes") {
    std::mutex mutex;
    evloop::Handle handle;
    std::vector<std::string> seen;
    evloop::Events ev;
    ev.data = [&](Conn c, std::string_view in) {
        std::lock_guard lock(mutex);
        seen.emplace_back(in);
        handle = c.handle();
        if (seen.size() == 1) c.keep(in.size());  // keep it all, the first time only
        if (seen.size() == 2) c.write(in);
        return Action::none;
    };
    Running server(ev, {});
    Client c(server.url());
    c.send("held");
    REQUIRE(eventually([&] {
        std::lock_guard lock(mutex);
        return !seen.empty();
    }));
    {
        std::lock_guard lock(mutex);
        REQUIRE(handle.wake());
    }
    CHECK(c.recv_exact(4) == "held");
    std::lock_guard lock(mutex);
    CHECK(seen == std::vector<std::string>{"held", "held"});
}

TEST_CASE("a peer that makes a connection keep more than max_input is closed with EMSGSIZE") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [](Conn c, std::string_view in) {
            c.keep(in.size());  // never a whole message
            return Action::none;
        };
        ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
        evloop::Options opt{.backend = backend};
        opt.max_input = 100000;
        Running server(ev, opt);
        Client c(server.url());
        bool reset = false;
        c.exchange(pattern(300000), SIZE_MAX, scaled(5000ms), &reset);
        CHECK(log.wait_count("closed " + std::to_string(EMSGSIZE), 1));
    }
}

TEST_CASE("without keep, a connection reads into the loop's shared buffer") {
    std::mutex mutex;
    std::set<const char*> pointers;
    evloop::Events ev;
    ev.data = [&](Conn c, std::string_view in) {
        std::lock_guard lock(mutex);
        pointers.insert(in.data());
        c.write(in);
        return Action::none;
    };
    Running server(ev, {});
    Client a(server.url()), b(server.url());
    a.send("aaaa");
    CHECK(a.recv_exact(4) == "aaaa");
    b.send("bbbb");
    CHECK(b.recv_exact(4) == "bbbb");
    std::lock_guard lock(mutex);
    CHECK(pointers.size() == 1);  // one loop, one buffer, no copies
}

TEST_CASE("input kept when the peer finishes is presented once more before eof") {
    // A client pipelines two requests and half-closes; the application answers one per data
    // event and keeps the other. Nothing new will arrive, so what was kept must not be lost.
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.data = [&](Conn c, std::string_view in) {
            log.add("data " + std::string(in));
            auto end = in.find(';');
            if (end == std::string_view::npos) return Action::none;
            c.write(in.substr(0, end + 1));
            c.keep(in.size() - end - 1);  // one request per event: the rest waits
            return Action::none;
        };
        ev.eof = [&](Conn) {
            log.add("eof");
            return Action::close;
        };
        Running server(ev, {.backend = backend});
        Client c(server.url());
        c.send("one;two;");
        c.shutdown_write();
        CHECK(c.recv_until_eof() == "one;two;");
        auto e = log.entries();
        CHECK(e == std::vector<std::string>{"data one;two;", "data two;", "eof"});
    }
}
