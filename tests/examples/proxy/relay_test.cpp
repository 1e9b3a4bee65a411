// The relay seen from both ends: the test is the client and the backend at once, so it
// can say what each end must see (every byte in order, a FIN where the other end sent
// one, a reset where the other end reset) and when the relay lets go of the pair.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "support.hpp"

using harness::Conn;
using harness::EndKind;
using harness::Pattern;
using harness::within;
using namespace proxytest;

namespace {

// Sends `bytes` of `pattern` and then a FIN, on a thread of its own, joined on destruction.
class Sender {
public:
    Sender(Conn& conn, Pattern pattern, std::size_t bytes)
        : thread_([&conn, pattern, bytes] {
              try {
                  conn.send_all(pattern.bytes(0, bytes), within(20s));
                  conn.shutdown_write();
              } catch (const harness::Failure&) {
                  // The reader's check reports what went missing.
              }
          }) {}
    ~Sender() { thread_.join(); }
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;

private:
    std::thread thread_;
};

// Reads to EOF and checks it is exactly `bytes` of `pattern`.
void expect_stream(Conn& conn, Pattern pattern, std::size_t bytes, const char* direction) {
    INFO(std::string(direction));
    auto got = conn.read_until_eof(within(20s));
    CHECK_MESSAGE(got.end == EndKind::eof, "ended with " << std::string(harness::end_kind_name(got.end)));
    REQUIRE(got.data.size() == bytes);
    auto mismatch =
        pattern.first_mismatch(0, {reinterpret_cast<const std::uint8_t*>(got.data.data()), bytes});
    CHECK_MESSAGE(!mismatch, "first wrong byte at offset " << mismatch.value_or(0));
}

// The descriptor numbers a process has open.
std::set<int> open_fds(pid_t pid) {
    std::set<int> fds;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
        fds.insert(std::stoi(entry.path().filename().string()));
    return fds;
}

// A connected pair: a client of the relay and the backend connection made for it.
struct Pair {
    Conn client, backend;
};

Pair connect_pair(harness::Server& relay, Backend& backend) {
    Pair p;
    p.client = Conn::connect(relay.address(), {}, within(2s));
    p.backend = backend.accept(within(2s));
    return p;
}

}  // namespace

TEST_CASE("relay: each client gets its own backend connection and both streams arrive in full and in order") {
    harness::Case c({.limit = 40s, .start_server = false});
    Backend backend;
    auto relay = start_proxy(backend.url());
    int baseline = relay->fd_count();
    // 8 MiB each way, far more than the kernel's buffers and the relay's high water marks
    // hold, on three pairs at once. Each end reads one stream to its end before the other:
    // while the backends are not read, their direction stops, and the other must go on.
    constexpr std::size_t kBytes = 8u << 20;
    std::vector<Pair> pairs;
    for (int i = 0; i < 3; ++i)
        pairs.push_back(connect_pair(*relay, backend));
    {
        std::vector<std::unique_ptr<Sender>> senders;
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            senders.push_back(std::make_unique<Sender>(pairs[i].client, Pattern(100 + i), kBytes));
            senders.push_back(std::make_unique<Sender>(pairs[i].backend, Pattern(200 + i), kBytes));
        }
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            expect_stream(pairs[i].client, Pattern(200 + i), kBytes, "backend to client");
            expect_stream(pairs[i].backend, Pattern(100 + i), kBytes, "client to backend");
        }
    }
    pairs.clear();
    CHECK(wait_for_fds(*relay, baseline) == baseline);
}

TEST_CASE("relay: a FIN from either end reaches the other which can still send and then the pair closes") {
    harness::Case c({.start_server = false});
    Backend backend;
    auto relay = start_proxy(backend.url());
    int baseline = relay->fd_count();
    // `first` says its piece and sends its FIN; `second` hears it to the end, then answers
    // (the FIN closed one direction only) and sends its own.
    auto half_close = [](Conn& first, Conn& second) {
        first.send_all("the first word");
        first.shutdown_write();
        auto heard = second.read_until_eof(within(2s));
        CHECK(heard.data == "the first word");
        CHECK(heard.end == EndKind::eof);
        second.send_all("the last word");
        second.shutdown_write();
        auto answer = first.read_until_eof(within(2s));
        CHECK(answer.data == "the last word");
        CHECK(answer.end == EndKind::eof);
    };
    for (bool client_first : {true, false}) {
        CAPTURE(client_first);
        Pair p = connect_pair(*relay, backend);
        half_close(client_first ? p.client : p.backend, client_first ? p.backend : p.client);
        // Both directions are done: the relay lets go of both sockets without being told.
        CHECK(wait_for_fds(*relay, baseline) == baseline);
    }
}

TEST_CASE("relay: a reset from either end resets the other") {
    harness::Case c({.start_server = false});
    Backend backend;
    auto relay = start_proxy(backend.url());
    int baseline = relay->fd_count();
    for (bool client_first : {true, false}) {
        CAPTURE(client_first);
        Pair p = connect_pair(*relay, backend);
        Conn& first = client_first ? p.client : p.backend;
        Conn& second = client_first ? p.backend : p.client;
        first.send_all("x");  // the pair carries bytes, then one end aborts
        CHECK(second.recv_exact_string(1, within(2s)) == "x");
        first.reset();
        auto end = second.read_until_eof(within(2s));
        CHECK_MESSAGE(end.end == EndKind::reset,
                      "the other end saw " << std::string(harness::end_kind_name(end.end)));
        CHECK(wait_for_fds(*relay, baseline) == baseline);
    }
}

TEST_CASE("relay: what a client sends before its backend has answered is kept and delivered with its FIN") {
    harness::Case c({.limit = 20s, .start_server = false});
    Backend backend(0);
    backend.fill();  // the relay's SYN goes unanswered until unfill()
    auto relay = start_proxy(backend.url());
    Conn client = Conn::connect(relay->address(), {}, within(2s));
    constexpr std::size_t kEarly = 32 * 1024;
    client.send_all(Pattern(7).bytes(0, kEarly), within(2s));
    client.shutdown_write();
    harness::sleep_for(200ms);
    backend.unfill();  // the relay's next SYN (retransmitted after about 1 s) is answered
    Conn far = backend.accept(within(4s));
    expect_stream(far, Pattern(7), kEarly, "the early bytes");
    far.send_all("late reply");
    far.close();
    auto reply = client.read_until_eof(within(2s));
    CHECK(reply.data == "late reply");
    CHECK(reply.end == EndKind::eof);
}

TEST_CASE("relay: a backend that refuses closes the client with one line on stderr") {
    harness::Case c({.start_server = false});
    std::string nowhere = refused_url();
    auto relay = start_proxy(nowhere);
    Conn client = Conn::connect(relay->address(), {}, within(2s));
    client.send_all("anyone there?");
    auto end = client.read_until_eof(within(2s));
    CHECK(end.data.empty());
    CHECK(end.end == EndKind::eof);
    harness::sleep_for(50ms);  // the line is written before the close; let the drain thread read it
    std::string err = relay->stderr_text();
    INFO("stderr: " << err);
    CHECK(count(err, "cannot connect to " + nowhere + ": Connection refused") == 1);
}

TEST_CASE(
    "relay: a backend that does not answer within --connect-timeout closes the client with one line on "
    "stderr") {
    harness::Case c({.start_server = false});
    Backend backend(0);
    backend.fill();
    auto relay = start_proxy(backend.url(), {"--connect-timeout", "300ms"});
    auto start = harness::Clock::now();
    Conn client = Conn::connect(relay->address(), {}, within(2s));
    auto end = client.read_until_eof(within(3s));
    auto took = harness::Clock::now() - start;
    CHECK(end.data.empty());
    CHECK(end.end == EndKind::eof);
    CHECK(took >= 300ms);
    harness::sleep_for(50ms);
    std::string err = relay->stderr_text();
    INFO("stderr: " << err);
    CHECK(count(err, "cannot connect to " + backend.url() + ": Connection timed out") == 1);
}

TEST_CASE("relay: a client whose backend finds no descriptor waits for one and is then served") {
    harness::Case c({.limit = 20s, .start_server = false});
    Backend backend;
    // The relay's descriptors at rest, then a limit that leaves three numbers free below it:
    // the first client and its backend take two, the second client the last one, and its
    // dial finds none. (The limit bounds the numbers, and a descriptor inherited above it
    // takes none of them.)
    std::set<int> at_rest = open_fds(start_proxy(backend.url())->pid());
    rlim_t limit = 0;
    for (int free = 0; free < 3; ++limit)
        if (!at_rest.count(static_cast<int>(limit))) ++free;
    // prlimit(1) sets it just before it execs the relay: the harness would set it before
    // its own set-up in the child, whose inherited descriptors already fill those numbers.
    harness::ServerOptions options;
    options.path = "prlimit";
    options.args = {"--nofile=" + std::to_string(limit), "--", proxy_path(), "--to", backend.url()};
    auto relay = harness::Server::start(options);
    REQUIRE(open_fds(relay->pid()) == at_rest);
    Pair first = connect_pair(*relay, backend);
    Conn second = Conn::connect(relay->address(), {}, within(2s));
    second.send_all("waiting");
    // Turned away, it would see an EOF; kept waiting, it sees nothing, and nor does the backend.
    CHECK_FALSE(second.wait_readable(within(300ms)));
    CHECK_THROWS_AS(backend.accept(within(100ms)), harness::Failure);
    first.client.close();
    first.backend.close();
    Conn far = backend.accept(within(3s));  // a retried dial, once the first pair is gone
    CHECK(far.recv_exact_string(7, within(2s)) == "waiting");
    far.send_all("served");
    CHECK(second.recv_exact_string(6, within(2s)) == "served");
    CHECK(relay->stderr_text().find("Too many open files: new clients wait") != std::string::npos);
}

TEST_CASE("relay: a unix socket backend behind a tcp6 listener carries every byte both ways") {
    harness::Case c({.start_server = false});
    std::string path = "/tmp/evloop-proxy-test-" + std::to_string(::getpid()) + ".sock";
    harness::ServerOptions echo_options;
    echo_options.path = echo_path();
    echo_options.listen = {"unix://" + path};
    auto echo = harness::Server::start(echo_options);
    auto relay = start_proxy("unix://" + path, {}, {"tcp6://[::1]:0"});
    Conn conn = Conn::connect(relay->address(), {}, within(2s));
    auto r = harness::exchange(conn, {.bytes = 4u << 20,
                                      .seed = 9,
                                      .shutdown_after_send = true,
                                      .expect_eof = true,
                                      .deadline = within(20s)});
    CHECK_MESSAGE(r.ok(), r.describe());
}

TEST_CASE("relay: --trace shows each pair made and each FIN and close passed on") {
    harness::Case c({.start_server = false});
    Backend backend;
    auto relay = start_proxy(backend.url(), {"--trace"});
    Pair p = connect_pair(*relay, backend);
    p.client.send_all("x");
    p.client.shutdown_write();
    CHECK(p.backend.read_until_eof(within(2s)).data == "x");
    p.backend.close();
    CHECK(p.client.read_until_eof(within(2s)).end == EndKind::eof);
    harness::sleep_for(100ms);  // the last lines are written as the pair closes
    std::string err = relay->stderr_text();
    INFO("stderr: " << err);
    CHECK(err.find(" paired with backend fd ") != std::string::npos);
    CHECK(err.find(" shuts its write side after 0 bytes") != std::string::npos);
    CHECK(err.find(" closed (orderly): closing fd ") != std::string::npos);
}
