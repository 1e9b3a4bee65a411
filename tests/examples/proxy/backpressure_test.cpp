// Backpressure across the pair: a side that never reads must stop the other side being
// read, so the relay (and the server behind it) hold a bounded amount for it, however
// long the other side keeps pushing.
#include <doctest/doctest.h>
#include <poll.h>

#include <algorithm>

#include "support.hpp"

using harness::Clock;
using harness::Conn;
using harness::Pattern;
using harness::within;
using namespace proxytest;

namespace {

constexpr std::size_t kMiB = 1 << 20;

// Resident size means something only without a sanitizer's allocator (CMakeLists.txt).
#if defined(EVLOOP_TEST_SANITIZED)
constexpr bool kRssMeans = false;
#else
constexpr bool kRssMeans = true;
#endif

struct Push {
    std::uint64_t sent = 0;
    std::uint64_t sent_in_last_second = 0;
};

// Sends for `duration` without reading, as fast as the connection takes bytes, calling
// `sample` every 50 ms.
Push push_for(Conn& conn, Clock::duration duration, const std::function<void()>& sample) {
    const auto chunk = Pattern(3).bytes(0, 256 * 1024);
    Push p;
    auto start = Clock::now(), next_sample = start, last_second = start + duration - 1s;
    std::uint64_t at_last_second = 0;
    bool marked = false;
    while (Clock::now() - start < duration) {
        p.sent += conn.send_now(chunk);
        if (!marked && Clock::now() >= last_second) {
            at_last_second = p.sent;
            marked = true;
        }
        if (Clock::now() >= next_sample) {
            sample();
            next_sample += 50ms;
        }
        pollfd w{conn.fd(), POLLOUT, 0};
        ::poll(&w, 1, 10);
    }
    p.sent_in_last_second = p.sent - at_last_second;
    return p;
}

}  // namespace

TEST_CASE(
    "backpressure: a client that pushes for 5 s and never reads grows the relay and the echo server behind "
    "it by under 4 MiB each") {
    harness::Case c({.limit = 30s, .start_server = false});
    harness::ServerOptions echo_options;
    echo_options.path = echo_path();
    auto echo = harness::Server::start(echo_options);
    auto relay = start_proxy(echo->url());
    Conn conn = Conn::connect(relay->address(), {}, within(2s));
    harness::round_trip(conn, Pattern(3), 0, 4096, within(2s));  // the pair is up and has carried bytes
    std::size_t relay_before = relay->rss_bytes(), echo_before = echo->rss_bytes();
    std::size_t relay_peak = relay_before, echo_peak = echo_before;
    // The echo comes back towards a client that does not read: the relay must stop reading
    // the echo server, which then stops reading the relay, which must stop reading the client.
    Push p = push_for(conn, 5s, [&] {
        relay_peak = std::max(relay_peak, relay->rss_bytes());
        echo_peak = std::max(echo_peak, echo->rss_bytes());
    });
    MESSAGE("pushed " << p.sent / kMiB << " MiB (" << p.sent_in_last_second / 1024
                      << " KiB in the last second); relay RSS " << relay_before / 1024 << " -> peak "
                      << relay_peak / 1024 << " KiB; echo RSS " << echo_before / 1024 << " -> peak "
                      << echo_peak / 1024 << " KiB");
    CHECK_MESSAGE(p.sent_in_last_second < kMiB, "the client could still push: nothing pushed back");
    if (!kRssMeans) MESSAGE("resident size not checked: a sanitizer's allocator keeps freed memory");
    if (kRssMeans) {
        CHECK(relay_peak - relay_before < 4 * kMiB);
        CHECK(echo_peak - echo_before < 4 * kMiB);
    }
    CHECK(relay->alive());
    CHECK(echo->alive());
}

TEST_CASE(
    "backpressure: a backend that never reads holds the relay to about one high water mark while its client "
    "pushes") {
    harness::Case c({.limit = 20s, .start_server = false});
    Backend backend;
    auto relay = start_proxy(backend.url());
    Conn conn = Conn::connect(relay->address(), {}, within(2s));
    Conn far = backend.accept(within(2s));
    conn.send_all("x");
    CHECK(far.recv_exact_string(1, within(2s)) == "x");
    std::size_t before = relay->rss_bytes(), peak = before;
    Push p = push_for(conn, 3s, [&] { peak = std::max(peak, relay->rss_bytes()); });
    MESSAGE("pushed " << p.sent / kMiB << " MiB; relay RSS " << before / 1024 << " -> peak " << peak / 1024
                      << " KiB");
    CHECK_MESSAGE(p.sent_in_last_second < kMiB, "the client could still push: nothing pushed back");
    // One high water mark (64 KiB, stage04-proxy's default) and one read past it, with room
    // for the allocator: a relay that kept reading the client would hold all it pushed.
    if (kRssMeans) CHECK(peak - before < 512 * 1024);
}
