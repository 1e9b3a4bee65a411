// The conformance harness: everything a black-box test of an echo server needs,
// and nothing about any particular stage.
//
//   Server    starts a server binary that follows the contract (fork/exec), waits for its
//             "listening on URL" lines, drains its stdout/stderr, signals and stops it, and
//             reads its CPU time, RSS and open-fd count from /proc.
//   Case      one test case's frame: starts the server (or uses the --address one), arms the
//             watchdog, and at the end checks the server is still alive and its fd count is
//             back at the baseline. Cases that must start, signal or limit the server are
//             skipped, and say so, when the suite tests an already running server.
//   Conn      one client socket: non-blocking underneath, every wait bounded by a deadline.
//   Pattern   a position-dependent byte stream, so lost, duplicated and reordered bytes are
//             all caught and the first bad offset can be named.
//   exchange  writes N pattern bytes while reading and verifying the echo.
//   fill_until_held  sends without reading until the server holds echo it cannot write,
//             seeing through the kernel's queues at both ends where every byte is.
//   Swarm     drives hundreds or tens of thousands of scripted clients from one epoll thread.
//   Latencies percentiles for latency bounds.
//
// Writing a case (tests/conformance/cases_<tier>.cpp, picked up by a glob):
//
//   TEST_SUITE("scale") {
//       TEST_CASE("1000 ramped connections each echo 10 times with p99 under 50 ms") {
//           harness::Case c({.limit = std::chrono::seconds(20)});
//           if (c.skipped()) return;
//           ...
//       }
//   }
//
// The full name is "tier: sentence" (the suite, a colon, the test case): no commas,
// semicolons or brackets, which doctest filters and CMake lists split on. A case that
// starts, signals or limits the server sets needs_own_server (or nofile_*), so that it is
// skipped, with a message, when the suite tests an already running server (--address).
//
// Markers are words in the case's doctest description, one decorator per case:
//
//   TEST_CASE("a firehose client leaves a probe a p99 round trip under 50 ms" *
//             doctest::description("serial")) { ... }
//
//   slow     it may take over 10 s: CTest label `slow` (left out of the main job) and a
//            longer CTest timeout.
//   serial   its pass criterion is a measurement that another test's load can break: a
//            latency percentile or a bound of about 2 s or less on how long something takes,
//            or a share of a CPU. CTest runs it alone (RUN_SERIAL), never beside another
//            case. A deadline that only bounds a wait (within(2s) for an echo) is not one.
//   Both:    doctest::description("slow serial").
// echo-conformance --list-cases shows them as " [slow]" and " [serial]" after the name.
//
// doctest 2.4 prints a `const char*` streamed into a message as a pointer: wrap C strings
// in std::string (e.g. `MESSAGE("got " << std::string(f.what()))`).
//
// Failures inside helpers throw harness::Failure (doctest reports the message). Every wait
// is bounded: by the deadline the caller passes, and always by the case's watchdog deadline.
// Time bounds go through scaled(), which multiplies by EVLOOP_TEST_TIME_SCALE (default 1).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"

namespace harness {

using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;
using std::chrono::milliseconds;

// ---------------------------------------------------------------- errors and time

// Thrown by every helper when the server misbehaves (wrong byte, unexpected reset,
// deadline passed, ...). The message says what was expected and what happened.
class Failure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// EVLOOP_TEST_TIME_SCALE as a number (default 1; sanitizer runs set 4 or more).
double time_scale();

// A time bound multiplied by the scale. Use it for every bound a slow machine could break.
milliseconds scaled(milliseconds bound);

// A point in time after which a wait gives up. A default-constructed Deadline means
// "the current case's watchdog deadline" (or 60 s from now outside any case); every
// deadline is also capped by the case deadline, so no helper ever waits past it.
class Deadline {
public:
    Deadline() = default;
    static Deadline after(Duration d) { return Deadline(Clock::now() + d); }
    static Deadline at(Clock::time_point t) { return Deadline(t); }

    Clock::time_point when() const;  // resolved and capped
    bool expired() const { return Clock::now() >= when(); }
    Duration remaining() const;
    int poll_timeout_ms() const;  // for poll()/epoll_wait(): rounded up, never negative

private:
    explicit Deadline(Clock::time_point t) : at_(t) {}
    std::optional<Clock::time_point> at_;
};

// The deadline `bound` (scaled) from now: how a case bounds one wait.
inline Deadline within(milliseconds bound) {
    return Deadline::after(scaled(bound));
}

// Sleeps for d, but returns early (throwing Failure) when the watchdog fires.
void sleep_for(Duration d);

// ---------------------------------------------------------------- the pattern

// The byte at offset i of stream `seed` is a byte of a 64-bit hash of (seed, i / 8): no
// period at any scale a test uses, different for every stream, so a byte that arrives at
// the wrong offset, twice, or on another client's connection is detected.
class Pattern {
public:
    explicit Pattern(std::uint64_t seed = 1) : seed_(seed) {}
    std::uint64_t seed() const { return seed_; }
    std::uint8_t at(std::uint64_t offset) const;
    void fill(std::uint64_t offset, std::span<std::uint8_t> out) const;
    std::vector<std::uint8_t> bytes(std::uint64_t offset, std::size_t n) const;
    // Offset (absolute, i.e. `offset` + index) of the first byte of `data` that differs.
    std::optional<std::uint64_t> first_mismatch(std::uint64_t offset,
                                                std::span<const std::uint8_t> data) const;

private:
    std::uint64_t seed_;
};

// Verifies an incoming stream chunk by chunk; remembers the first bad offset.
class PatternChecker {
public:
    // `start`: the stream offset of the first byte it will see.
    explicit PatternChecker(Pattern p, std::uint64_t start = 0) : pattern_(p), offset_(start) {}
    // Returns false once any byte so far was wrong.
    bool consume(std::span<const std::uint8_t> data);
    std::uint64_t offset() const { return offset_; }  // stream offset of the next byte
    std::optional<std::uint64_t> first_bad() const { return bad_; }
    std::string describe_bad() const;  // "byte 1234: expected 0x5a, got 0x00" or ""

private:
    Pattern pattern_;
    std::uint64_t offset_ = 0;
    std::optional<std::uint64_t> bad_;
    std::uint8_t bad_expected_ = 0, bad_got_ = 0;
};

// ---------------------------------------------------------------- latencies

class Latencies {
public:
    void add(Duration d) { samples_.push_back(d); }
    void merge(const Latencies& other);
    std::size_t count() const { return samples_.size(); }
    Duration percentile(double p) const;  // p in [0, 100]; zero when empty
    Duration max() const { return percentile(100); }
    // "n=10000 p50=0.12ms p90=0.3ms p99=1.8ms max=4.1ms"
    std::string summary() const;

private:
    mutable std::vector<Duration> samples_;
    mutable bool sorted_ = false;
};

double to_ms(Duration d);

// ---------------------------------------------------------------- the server process

struct ExitStatus {
    bool exited = false;  // exit() was called; code is valid
    int code = 0;
    bool signaled = false;  // killed by a signal; signal is valid
    int signal = 0;
    bool timed_out = false;  // still running when the wait gave up
    bool clean() const { return exited && code == 0; }
    std::string describe() const;  // "exit status 0", "killed by signal 13 (Broken pipe)", ...
};

struct ServerOptions {
    std::string path{};               // the server binary
    std::vector<std::string> args{};  // given before the --listen options
    // One "--listen URL" is appended per entry; leave empty to add none (then set
    // expect_listening yourself).
    std::vector<std::string> listen{"tcp://127.0.0.1:0"};
    int expect_listening = -1;  // "listening on" lines to wait for; -1 = listen.size()
    // RLIMIT_NOFILE for the server (setrlimit in the child before exec). When unset the
    // server inherits the harness's limits (soft raised to hard at start-up).
    std::optional<rlim_t> nofile_soft{};
    std::optional<rlim_t> nofile_hard{};  // unset: keep the inherited hard limit
    milliseconds startup_timeout{5000};   // scaled
};

// A running server. Its stdout and stderr are drained by a thread from the start, so it
// never blocks on a full pipe. The destructor kills (SIGKILL) and reaps it.
class Server {
public:
    // Starts the server and waits for its "listening on" lines. Throws Failure if it
    // exits first or the lines do not come in time (the message includes its stderr).
    static std::unique_ptr<Server> start(const ServerOptions& options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    pid_t pid() const;
    // The addresses announced, in order, parsed with common::parse_address.
    const std::vector<common::Address>& addresses() const;
    const common::Address& address() const { return addresses().at(0); }
    std::string url() const { return address().url(); }

    bool alive();                             // has not exited (reaps it if it has)
    std::optional<ExitStatus> exit_status();  // set once it has exited
    void signal(int sig);                     // kill(2); a no-op once reaped
    // Waits for it to exit, up to `timeout` (not scaled here: pass scaled(...)).
    ExitStatus wait(Duration timeout);
    // SIGTERM, then wait(timeout).
    ExitStatus stop(Duration timeout);
    void kill();  // SIGKILL and reap

    // /proc/<pid> readers. Throw Failure when the process is gone.
    double cpu_seconds();     // utime + stime
    std::size_t rss_bytes();  // VmRSS
    int fd_count();           // entries in /proc/<pid>/fd
    // The state letter from /proc/<pid>/stat: 'R' running, 'S' sleeping, 'T' stopped, ...
    char proc_state();
    // Waits until proc_state() is `state` (e.g. 'T' after SIGSTOP); false on timeout.
    bool wait_for_state(char state, Duration timeout);
    // Every thread is asleep ('S'): blocked in a call such as read, write or epoll_wait, and
    // not running. False once it has exited.
    bool asleep();

    // CPU use as a fraction of one core over `interval` of wall time.
    double cpu_fraction_over(Duration interval);

    std::string stderr_text() const;  // everything it wrote so far (kept up to 16 MiB)
    std::string stderr_tail(std::size_t max_bytes = 4096) const;
    std::size_t stderr_bytes() const;  // total written, even beyond what is kept
    std::string stdout_text() const;
    std::size_t stdout_bytes() const;

    struct Impl;

private:
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Runs a program to completion (used for the command-line cases: bad addresses, --help).
struct RunResult {
    ExitStatus status;
    std::string out;
    std::string err;
};
// When `kill_on_stdout` is not empty and appears on its stdout, the program is killed at
// once (e.g. "listening on ": a server that accepted an address it should have refused).
RunResult run_to_exit(const std::string& path, const std::vector<std::string>& args, Duration timeout,
                      std::string_view kill_on_stdout = {});

// ---------------------------------------------------------------- the suite's target

// What the suite is pointed at; set once by the conformance program's main().
struct Target {
    std::string server_path{};               // --server PATH
    std::vector<std::string> server_args{};  // after "--"
    std::string address_url{};               // --address URL (then server_path is empty)
    bool address_mode() const { return !address_url.empty(); }
};
void set_target(Target t);
const Target& target();

// Options for a server started from the target: its args plus these.
ServerOptions target_server_options();

// ---------------------------------------------------------------- one case

struct CaseOptions {
    // The watchdog: when this much time (scaled) has passed, the server is killed with
    // SIGKILL (with --address: every client socket is shut down) and the case fails with
    // "watchdog: case exceeded N s".
    milliseconds limit{10000};
    // The case starts, signals or limits the server itself: skipped with --address.
    bool needs_own_server = false;
    // Start the target server before the case body (false: the case starts its own).
    bool start_server = true;
    // RLIMIT_NOFILE soft (and hard when given) for the server; implies needs_own_server.
    std::optional<rlim_t> nofile_soft{};
    std::optional<rlim_t> nofile_hard{};
    std::vector<std::string> extra_args{};  // appended to the target's args
    // At the end the server must still be running (false for cases that stop it).
    bool expect_alive = true;
    // At the end the server's fd count must come back to what it was before the case's
    // first connection (waits up to 2 s scaled for it to close). Spawned servers only.
    bool check_fds = true;
};

// What happened in the current case beyond its assertions; the conformance program
// reads it to judge expected failures (a crash or a watchdog is never "the reason").
struct CaseRecord {
    bool skipped = false;
    std::string skip_reason;
    bool crashed = false;  // the server died by a signal or exited while it should run
    std::string crash;     // describe() of its exit status
    bool watchdog = false;
    std::string server_stderr_tail;  // kept for printing when the case failed
};
CaseRecord& current_record();
void reset_record();

// Construct first thing in a case body:
//
//   TEST_CASE("basic: one line is echoed") {
//       harness::Case c;
//       if (c.skipped()) return;
//       auto conn = harness::Conn::connect(c.address());
//       ...
//   }
//
// The destructor disarms the watchdog and checks (with doctest CHECKs) that the server
// is alive and back at its fd baseline, unless an exception is already propagating, in
// which case it only records a crash for the report.
class Case {
public:
    explicit Case(CaseOptions options = {});
    ~Case();
    Case(const Case&) = delete;
    Case& operator=(const Case&) = delete;

    bool skipped() const { return skipped_; }
    // The address clients connect to: the started server's first one, or --address.
    const common::Address& address() const;
    // The started server; nullptr with --address or start_server = false.
    Server* server() { return server_.get(); }
    // Starts another server (restart cases), registered with the watchdog.
    std::unique_ptr<Server> start_server(ServerOptions options);
    ServerOptions server_options() const;  // the target's options with this case's extras
    Deadline deadline() const;             // the watchdog deadline
    int baseline_fds() const { return baseline_fds_; }
    // Re-measure the fd baseline now (e.g. after a warm-up connection the server keeps).
    void rebaseline_fds();
    // Waits (up to `timeout`, scaled) for the server's fd count to return to the baseline;
    // returns the last count seen.
    int wait_for_fd_baseline(milliseconds timeout = milliseconds{2000});

private:
    CaseOptions options_;
    bool skipped_ = false;
    std::unique_ptr<Server> server_;
    std::optional<common::Address> address_;
    int baseline_fds_ = -1;
    Clock::time_point deadline_{};
};

// ---------------------------------------------------------------- one client

struct ConnectOptions {
    int rcvbuf = 0;        // SO_RCVBUF set before connect (0: leave the default)
    int sndbuf = 0;        // SO_SNDBUF set before connect
    bool nodelay = false;  // TCP_NODELAY
};

// How a read-to-end finished.
enum class EndKind { eof, reset, timeout, error };
std::string_view end_kind_name(EndKind k);

struct ReadResult {
    std::string data;
    EndKind end = EndKind::eof;
    int error = 0;  // errno for reset/error
};

// The server's end of a client's TCP connection, as the kernel reports it (sock_diag(7)).
struct FarEnd {
    int state = 0;                // TCP_ESTABLISHED, TCP_CLOSE_WAIT, ... (netinet/tcp.h)
    std::uint64_t unread = 0;     // arrived and not yet read by the server; a FIN counts one
    std::uint64_t unacked = 0;    // written by the server and not yet acknowledged by the client
    std::uint32_t in_flight = 0;  // segments it has sent that the client has not acknowledged
    bool operator==(const FarEnd&) const = default;
};

// A client socket: SOCK_CLOEXEC, non-blocking underneath; every call waits with poll()
// up to its deadline (and never past the case's). Registered with the watchdog, which
// shuts it down when the case overruns. Closes on destruction.
class Conn {
public:
    Conn() = default;
    static Conn connect(const common::Address& address, const ConnectOptions& options = {},
                        Deadline deadline = {});
    // The next connection queued on `listener`, a socket the test itself listens on (the
    // backend behind a relay, say), waiting for one up to the deadline.
    static Conn accept(int listener, Deadline deadline = {});
    Conn(Conn&& other) noexcept;
    Conn& operator=(Conn&& other) noexcept;
    ~Conn();

    int fd() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

    void send_all(std::span<const std::uint8_t> data, Deadline deadline = {});
    void send_all(std::string_view data, Deadline deadline = {});
    // What the kernel takes right now without waiting (0 when the send buffer is full).
    // Throws on reset.
    std::size_t send_now(std::span<const std::uint8_t> data);
    // Exactly n bytes, or Failure (EOF, reset or deadline: the message says which).
    std::vector<std::uint8_t> recv_exact(std::size_t n, Deadline deadline = {});
    std::string recv_exact_string(std::size_t n, Deadline deadline = {});
    // Whatever arrives first (at least one byte), up to max; an empty result means EOF.
    // Throws on reset or deadline.
    std::vector<std::uint8_t> recv_some(std::size_t max, Deadline deadline = {});
    // Everything until the peer closes, telling a clean EOF (recv returns 0) from a reset
    // (ECONNRESET) and from the deadline. Gives up with EndKind::error beyond max_bytes.
    ReadResult read_until_eof(Deadline deadline = {}, std::size_t max_bytes = 256u << 20);
    // True if readable (data, EOF or error) before the deadline.
    bool wait_readable(Deadline deadline);

    // What our kernel holds: received and not read yet (SIOCINQ), and sent and not yet
    // acknowledged, a FIN counting one (SIOCOUTQ); tcp(7).
    std::uint64_t unread_bytes() const;
    std::uint64_t unacked_bytes() const;
    // The server's end of this connection, looked up by address and port. Nothing for a unix
    // socket or a server in another network namespace.
    std::optional<FarEnd> far_end() const;

    void shutdown_write();  // shutdown(SHUT_WR): the server sees EOF
    void set_nodelay(bool on);
    // Close with SO_LINGER {1, 0}: the kernel sends RST instead of FIN (socket(7)).
    void reset();
    void close();

private:
    explicit Conn(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// ---------------------------------------------------------------- probes

// Sends `bytes` of Pattern(offset..) on an open connection and checks the echo; returns the
// round-trip time. Throws Failure on a wrong byte, EOF, reset or the deadline.
Duration round_trip(Conn& conn, const Pattern& pattern, std::uint64_t offset, std::size_t bytes,
                    Deadline deadline = {});

// "Is it still serving?": a fresh connection, one round trip of `bytes`, a clean close.
void check_echo(const common::Address& address, std::size_t bytes = 64, Deadline deadline = {});

// ---------------------------------------------------------------- echo the server holds

// Where the bytes of a client that sends and reads nothing back are: in our send queue,
// unread at the server, in the server's own memory, in its send queue, or in our receive
// queue. The kernel reports all but the server's memory, so that part is what is left:
// `held`. A blocking server holds what its blocked write() has not taken yet; an
// event-driven one its output buffer.
struct Backlog {
    std::uint64_t sent = 0;  // bytes the client has sent; none read back
    std::uint64_t held = 0;  // read by the server and not yet written to its socket
    bool observed = false;   // the far end was found, so `held` means something
    bool asleep = false;     // the server slept throughout (taken as true with --address)
    bool settled = false;    // two looks a moment apart agreed (settle() only)
    std::uint64_t our_unacked = 0, our_unread = 0;
    FarEnd far{};
    std::string describe() const;  // one line, for assertion messages
};

// Looks until two looks a moment apart agree, nothing the server sent is waiting for the
// client's (possibly delayed) acknowledgement, and the server (when given) slept through
// both looks; or until the deadline passes: then `settled` is false. `sent`: what the
// client has sent.
Backlog settle(Conn& conn, std::uint64_t sent, Server* server, Deadline deadline,
               Duration quiet = milliseconds(2));

// Sends `pattern` from offset 0 on a fresh connection, reading nothing back, until the
// server holds echo it cannot write because the way back is full (its send buffer and our
// receive buffer): a blocking server is then stuck in write(), an event-driven one has
// output queued. Stops as soon as it sees that, so little input is left unread. Without a
// far end to look at, sends until nothing goes out for 200 ms (scaled) instead. Throws when
// the server dies, or takes 256 MiB without ever holding any echo back.
Backlog fill_until_held(Conn& conn, const Pattern& pattern, Server* server, Deadline deadline = {});

// Sends our FIN (shutdown(SHUT_WR)) and waits, reading nothing, until the server has dealt
// with it: its kernel has the FIN, or the FIN waits behind input the server is not reading,
// and the server has settled again. Then an event-driven server has read the EOF.
Backlog half_close_and_settle(Conn& conn, std::uint64_t sent, Server* server, Deadline deadline = {});

// ---------------------------------------------------------------- one full-duplex stream

struct ExchangeOptions {
    std::uint64_t bytes = 0;        // how much to send
    std::uint64_t seed = 1;         // Pattern seed
    std::size_t chunk = 64 * 1024;  // bytes per send() at most
    // Stop sending while this many bytes are in flight (sent and not yet echoed);
    // 0 = no limit. Keeps a reader from depending on the server's buffering.
    std::uint64_t max_in_flight = 0;
    bool shutdown_after_send = false;  // SHUT_WR once everything is sent
    bool expect_eof = false;           // after the echo, the server must close cleanly
    Deadline deadline{};
    // Continuing a stream: the pattern offset of this exchange's first byte (what was
    // exchanged before on the connection), and how many of `bytes` the caller has already
    // sent (e.g. with send_now) without reading their echo.
    std::uint64_t offset = 0;
    std::uint64_t already_sent = 0;
};

struct ExchangeResult {
    std::uint64_t sent = 0;                  // of `bytes`, including already_sent
    std::uint64_t received = 0;              // verified bytes of `bytes`
    std::optional<std::uint64_t> first_bad;  // first wrong offset in the stream
    bool completed = false;                  // all bytes echoed byte-exact (and EOF seen if asked)
    std::string error;                       // what went wrong, for the assertion message
    Duration elapsed{};
    bool ok() const { return completed && !first_bad && error.empty(); }
    std::string describe() const;  // one line: sent, received, first bad offset, error
};

// Writes `bytes` of Pattern(seed) while reading the echo and checking every byte, with a
// single poll() loop (no threads), so it never relies on the server buffering everything.
ExchangeResult exchange(Conn& conn, const ExchangeOptions& options);

// ---------------------------------------------------------------- many clients

// A client's script: steps run in order on one connection.
struct Step {
    enum class Kind {
        send,            // send `bytes` more of the client's pattern
        push,            // send up to `bytes` more; give up once no byte went out for `pause`
        expect,          // receive and verify `bytes` more of the echo
        round_trip,      // `count` times: send `bytes`, wait for their echo; latency recorded
        pause,           // idle for `pause`
        shutdown_write,  // SHUT_WR
        expect_eof,      // the server must close cleanly (recv returns 0)
        close,           // close (FIN); ends the script
        reset,           // close with SO_LINGER 0 (RST); ends the script
    };
    Kind kind = Kind::send;
    std::uint64_t bytes = 0;
    int count = 1;
    Duration pause{};

    static Step send(std::uint64_t n) { return {Kind::send, n, 1, {}}; }
    static Step push(std::uint64_t n, Duration stall) { return {Kind::push, n, 1, stall}; }
    static Step expect(std::uint64_t n) { return {Kind::expect, n, 1, {}}; }
    static Step round_trip(std::uint64_t n, int times = 1) { return {Kind::round_trip, n, times, {}}; }
    static Step wait(Duration d) { return {Kind::pause, 0, 1, d}; }
    static Step shutdown_write() { return {Kind::shutdown_write, 0, 1, {}}; }
    static Step expect_eof() { return {Kind::expect_eof, 0, 1, {}}; }
    static Step close() { return {Kind::close, 0, 1, {}}; }
    static Step reset() { return {Kind::reset, 0, 1, {}}; }
};

struct Script {
    std::vector<Step> steps{};  // a script that ends without close/reset closes with FIN
    ConnectOptions connect{};
    std::uint64_t seed = 0;  // 0: the swarm assigns a distinct seed per client
    // Read and verify the echo whenever it arrives. false: read only during expect,
    // round_trip and expect_eof steps (a client that does not read, e.g. a slow reader).
    bool drain = true;
};

struct SwarmOptions {
    // At most this many connections open at once (0 = no limit). Clients start in the
    // order they were added, so long-lived clients added first keep their slots.
    std::size_t max_open = 0;
    // At most this many connects per second (0 = as fast as possible: no ramp).
    double connects_per_second = 0;
    // Stop at the first failing client (otherwise run them all and count).
    bool stop_on_failure = false;
    std::size_t chunk = 64 * 1024;  // send/recv unit
    Deadline deadline{};
};

struct ClientResult {
    bool done = false;  // script completed
    std::string error;  // why not ("connect: ECONNREFUSED", "byte 17: expected ...", ...)
    std::uint64_t sent = 0, received = 0;
    Duration connect_time{};  // from connect() to writable
};

struct SwarmResult {
    std::vector<ClientResult> clients;  // in the order added
    std::size_t completed = 0, failed = 0, not_started = 0;
    Latencies round_trips;  // every round_trip step
    Latencies connects;     // every connect
    std::size_t peak_open = 0;
    Duration elapsed{};
    bool ok() const { return failed == 0 && not_started == 0 && completed == clients.size(); }
    // "1000 clients: 998 completed, 2 failed; first failure: client 17: ..."
    std::string describe() const;
};

// Drives every client from one thread with epoll (level-triggered, non-blocking sockets).
//
//   harness::Swarm swarm(c.address());
//   for (int i = 0; i < 100; ++i)
//       swarm.add({.steps = {harness::Step::round_trip(64, 100)}});
//   auto r = swarm.run({});
//   CHECK_MESSAGE(r.ok(), r.describe());
//
// Optional hook: called on the driver thread once per loop iteration (e.g. to sample the
// server's RSS while the clients run); return false to stop early.
class Swarm {
public:
    explicit Swarm(common::Address address);
    std::size_t add(Script script);  // returns the client's index
    std::size_t size() const { return scripts_.size(); }
    void on_tick(std::function<bool()> hook) { tick_ = std::move(hook); }
    SwarmResult run(const SwarmOptions& options);

private:
    common::Address address_;
    std::vector<Script> scripts_;
    std::function<bool()> tick_;
};

// ---------------------------------------------------------------- process set-up

// Called once by main(): ignore SIGPIPE, raise the soft fd limit to the hard limit,
// start the watchdog thread.
void init_process();

// The watchdog, for code that runs outside a Case (Case arms and disarms it itself).
void watchdog_arm(Clock::time_point deadline, milliseconds limit);
void watchdog_disarm();
bool watchdog_fired();

}  // namespace harness
