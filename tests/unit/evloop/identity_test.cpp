// What identifies a connection: handles unique across the whole server (usable as map
// keys), and addresses taken when it opened, still there in `closed`.
#include <netinet/in.h>

#include <set>
#include <thread>
#include <unordered_set>

#include "doctest/doctest.h"
#include "support.hpp"

using evloop::Action;
using evloop::Conn;
using namespace t;

TEST_CASE("no two connections of a server share a handle generation, whatever their loops") {
    std::mutex mutex;
    std::vector<std::uint64_t> generations;
    std::set<int> loops;
    evloop::Events ev;
    ev.opened = [&](Conn c, evloop::ConnOptions&) {
        std::lock_guard lock(mutex);
        generations.push_back(c.handle().generation());
        loops.insert(c.loop_index());
        return Action::none;
    };
    Running server(ev, {.loops = 4});
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 40; ++i)
        clients.push_back(std::make_unique<Client>(server.url()));
    REQUIRE(eventually([&] {
        std::lock_guard lock(mutex);
        return generations.size() == 40;
    }));
    std::lock_guard lock(mutex);
    CHECK(loops.size() == 4);
    CHECK(std::set<std::uint64_t>(generations.begin(), generations.end()).size() == 40);
}

TEST_CASE("handles compare and hash by their connection, so they can key a map") {
    std::mutex mutex;
    std::unordered_set<evloop::Handle> seen;
    std::vector<evloop::Handle> copies;
    evloop::Events ev;
    ev.data = [&](Conn c, std::string_view) {
        std::lock_guard lock(mutex);
        seen.insert(c.handle());  // the same connection twice: one entry
        copies.push_back(c.handle());
        return Action::none;
    };
    Running server(ev, {.loops = 2});
    Client a(server.url()), b(server.url());
    for (auto* c : {&a, &b, &a, &b}) {
        c->send("x");
        std::this_thread::sleep_for(scaled(50ms));
    }
    REQUIRE(eventually([&] {
        std::lock_guard lock(mutex);
        return copies.size() == 4;
    }));
    std::lock_guard lock(mutex);
    CHECK(seen.size() == 2);
    CHECK(copies[0] == copies[2]);
    CHECK(copies[0] != copies[1]);
    CHECK(evloop::Handle() == evloop::Handle());
}

TEST_CASE("a connection's local and remote addresses are still known in closed") {
    for (auto backend : backends()) {
        CAPTURE(std::string(evloop::backend_name(backend)));
        Log log;
        evloop::Events ev;
        ev.closed = [&](Conn c, int) { log.add(c.local_addr().url + " " + c.remote_addr().url); };
        Running server(ev, {.backend = backend}, {"tcp://127.0.0.1:0", "tcp://0.0.0.0:0"});
        for (std::size_t i = 0; i < 2; ++i) {
            std::string url = server.url(i);
            auto port = url.substr(url.rfind(':'));
            Client c("tcp://127.0.0.1" + port);
            sockaddr_in mine{};
            socklen_t len = sizeof mine;
            ::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&mine), &len);
            std::string expected =
                "tcp://127.0.0.1" + port + " tcp://127.0.0.1:" + std::to_string(ntohs(mine.sin_port));
            c.close();
            CHECK(log.wait_count(expected, 1));
        }
    }
}
