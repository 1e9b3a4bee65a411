// What a connection can cost the server, with the default options: a peer that never
// reads costs at most high_water plus one read; writes from other threads count against
// the same output bound as writes on the loop; a connection's timers go with it.
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include "doctest/doctest.h"
#include "support.hpp"

using evloop::Action;
using evloop::Conn;
using namespace t;

namespace {

[[maybe_unused]] long rss_kib() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// Sends until the kernel stops taking bytes, for at most `limit`.
[[maybe_unused]] std::size_t push_until_blocked(int fd, std::size_t limit) {
    static const std::string chunk(65536, 'p');
    std::size_t total = 0;
    auto deadline = std::chrono::steady_clock::now() + scaled(2000ms);
    while (total < limit && std::chrono::steady_clock::now() < deadline) {
        long n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | kNoSigPipe);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
        std::this_thread::sleep_for(10ms);  // let the server read and pause
        if (::send(fd, chunk.data(), 1, MSG_DONTWAIT | kNoSigPipe) <= 0) break;
        ++total;
    }
    return total;
}

// The most a TCP connection's two socket buffers can hold (tcp(7): tcp_rmem, tcp_wmem).
std::size_t kernel_buffers_max() {
    std::size_t total = 0;
    for (const char* path : {"/proc/sys/net/ipv4/tcp_rmem", "/proc/sys/net/ipv4/tcp_wmem"}) {
        unsigned long lo = 0, mid = 0, hi = 0;
        FILE* f = std::fopen(path, "r");
        if (f && std::fscanf(f, "%lu %lu %lu", &lo, &mid, &hi) == 3)
            total += hi;
        else
            total += 16ul << 20;  // not Linux: a generous guess
        if (f) std::fclose(f);
    }
    return total;
}

}  // namespace

TEST_CASE("Handle writes from another thread stop at max_output and the connection closes with ENOBUFS") {
    std::mutex mutex;
    evloop::Handle handle;
    Log log;
    evloop::Events ev;
    ev.opened = [&](Conn c, evloop::ConnOptions&) {
        std::lock_guard lock(mutex);
        handle = c.handle();
        log.add("opened");
        return Action::none;
    };
    ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
    Running server(ev, {});  // the default bound
    Client c(server.url());  // never reads
    REQUIRE(log.wait_count("opened", 1));
    // Once the bound is passed the connection closes, and the calls after that say so too.
    int accepted = 0, refused = 0, late = 0;
    for (int i = 0; i < 256; ++i) {
        std::lock_guard lock(mutex);
        if (handle.write(std::string(1 << 20, 'w')))
            ++(refused ? late : accepted);
        else
            ++refused;
    }
    CAPTURE(accepted);
    CHECK(refused > 0);
    // The bound counts what the library holds; the kernel's socket buffers hold the rest of
    // what was accepted: at most the largest send buffer plus the largest receive buffer.
    std::size_t kernel = kernel_buffers_max();
    CAPTURE(kernel);
    CHECK(static_cast<std::size_t>(accepted) <= ((evloop::Options{}.max_output + kernel) >> 20) + 1);
    CHECK(log.wait_count("closed " + std::to_string(ENOBUFS), 1));
    CAPTURE(late);  // accepted after a refusal, while the close was still on its way
    CHECK_FALSE(handle.write("after the close"));
}

TEST_CASE("a timer's function is destroyed when its connection closes, not when it would have fired") {
    auto alive = std::make_shared<int>(0);
    std::weak_ptr<int> watch = alive;
    Log log;
    evloop::Events ev;
    ev.opened = [&, held = alive](Conn c, evloop::ConnOptions&) {
        c.after(std::chrono::hours(1), [held](Conn) {});
        return Action::none;
    };
    ev.closed = [&](Conn, int) { log.add("closed"); };
    {
        Running server(std::move(ev), {});
        alive.reset();  // only the timers (and the events' copy) hold it now
        for (int i = 0; i < 20; ++i) {
            Client c(server.url());
        }
        REQUIRE(log.wait_count("closed", 20));
        // The events' own copy of the capture is all that is left.
        CHECK(watch.use_count() == 1);
    }
    CHECK(watch.expired());
}

TEST_CASE("a client that sends without reading costs at most high_water plus one read") {
#if defined(EVLOOP_TEST_SANITIZED)
    MESSAGE("skipped: a sanitizer's allocator keeps freed memory, so resident size says nothing here");
    return;
#else
    std::atomic<std::size_t> max_pending{0};
    evloop::Events ev;
    ev.data = [&](Conn c, std::string_view in) {
        c.write(in);
        std::size_t p = c.pending_output();
        if (p > max_pending) max_pending = p;
        return Action::none;
    };
    Running server(ev, {});
    const evloop::Options defaults;
    constexpr int kClients = 30;
    long before = rss_kib();
    std::vector<std::unique_ptr<Client> > clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<Client>(server.url()));
        push_until_blocked(clients.back()->fd(), 64 << 20);
    }
    long grown = rss_kib() - before;
    CAPTURE(grown);
    CHECK(max_pending.load() <= defaults.high_water + 65536);
    // Resident memory, not just the count: output buffers must not touch what they reserve.
    CHECK(grown <= kClients * static_cast<long>((defaults.high_water + 65536) / 1024) + 8 * 1024);
#endif
}
