// echo-bench: a load generator for echo servers that checks every byte it gets back.
//
// Each connection sends its own stream of bytes (harness/pattern.hpp) and checks each echoed
// byte against the byte it sent at that position, so a server that drops, duplicates,
// reorders or corrupts even one byte makes the run fail. The connections, the pattern, the
// percentiles, the /proc readers and the server spawner are the conformance suite's own
// (tests/harness); this file adds the phases, the modes' counting and the report. Modes (see --help):
//   ping     messages/s and latency percentiles, one message in flight per connection
//   stream   MB/s with many bytes in flight: the fire-hose
//   connect  connections/s, each doing one echo and a clean half-close
//   hold     memory per idle connection in the server (with --pid)
// With --pid it also reads the server's CPU time and RSS from /proc, so one run gives
// CPU seconds per million messages and peak memory under load.
//
//   echo-bench --address tcp://127.0.0.1:5000 -c 50 -d 5s
//   echo-bench -m stream -c 10 -d 2s -- build/bin/stage03-echo
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness/case.hpp"
#include "harness/latencies.hpp"
#include "harness/proc.hpp"
#include "harness/server.hpp"
#include "options.hpp"
#include "worker.hpp"

using namespace bench;
using Clock = std::chrono::steady_clock;

namespace {

// The server's readings from /proc; -1 where unknown. Sizes in KiB.
struct ServerSample {
    double cpu = -1;
    long rss = -1, peak_rss = -1, fds = -1;
};

long kib(std::optional<std::size_t> bytes) {
    return bytes ? static_cast<long>(*bytes / 1024) : -1;
}

ServerSample sample(pid_t pid) {
    if (pid == 0) return {};
    return {harness::proc::cpu_seconds(pid).value_or(-1), kib(harness::proc::rss_bytes(pid)),
            kib(harness::proc::peak_rss_bytes(pid)), harness::proc::fd_count(pid).value_or(-1)};
}

// Just enough JSON for the report: numbers (-1 means unknown), plain strings, nested objects.
class Json {
public:
    Json() : text_("{") {}
    Json& num(const char* key, double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, v == static_cast<long long>(v) ? "%.0f" : "%.3f", v);
        return field(key, buf);
    }
    Json& str(const char* key, const std::string& v) {
        std::string quoted = "\"";
        for (char ch : v) {
            if (ch == '"' || ch == '\\') quoted += '\\';
            quoted += ch;
        }
        return field(key, quoted + "\"");
    }
    Json& open(const char* key) {
        field(key, "{");
        first_ = true;
        return *this;
    }
    Json& close() {
        text_ += "}";
        first_ = false;
        return *this;
    }
    const std::string& text() const { return text_; }

private:
    Json& field(const char* key, const std::string& value) {
        text_ += (first_ ? "\"" : ",\"") + std::string(key) + "\":" + value;
        first_ = false;
        return *this;
    }
    std::string text_;
    bool first_ = true;
};

struct Totals {
    std::uint64_t messages = 0, bytes = 0, sent = 0, connects = 0, connected = 0, errors = 0;
};

Totals totals(const std::vector<std::unique_ptr<Worker>>& workers) {
    Totals t;
    for (const auto& w : workers) {
        t.messages += w->messages.load(std::memory_order_relaxed);
        t.bytes += w->bytes.load(std::memory_order_relaxed);
        t.sent += w->sent.load(std::memory_order_relaxed);
        t.connects += w->connects.load(std::memory_order_relaxed);
        t.connected += w->established.load(std::memory_order_relaxed);
        t.errors += w->error_count.load(std::memory_order_relaxed);
    }
    return t;
}

// Our own CPU time (all threads): when it nears the wall time, the client is what limits the rate.
double own_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

class Run {
public:
    explicit Run(const Options& o) : opt_(o), shared_(o) {}

    int execute();

private:
    void progress(const char* what, double elapsed);
    void wait(double seconds, const char* what);
    void wait_for_messages();
    void hold_open();
    void report(double window, double client_cpu, const ServerSample& before, const ServerSample& end);

    const Options& opt_;
    Shared shared_;
    std::vector<std::unique_ptr<Worker>> workers_;
    Clock::time_point start_ = Clock::now();
    double next_progress_ = 1;
    bool show_progress_ = false;
    // hold mode
    ServerSample base_, idle_, echoed_;
};

void Run::progress(const char* what, double elapsed) {
    if (!show_progress_ || elapsed < next_progress_) return;
    next_progress_ = elapsed + 1;
    Totals t = totals(workers_);
    std::fprintf(stderr, "echo-bench: %5.1fs %-8s %llu messages, %.1f MB, %llu connected, %llu errors\n",
                 elapsed, what, static_cast<unsigned long long>(t.messages),
                 static_cast<double>(t.bytes) / 1e6, static_cast<unsigned long long>(t.connected),
                 static_cast<unsigned long long>(t.errors));
}

void Run::wait(double seconds, const char* what) {
    auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        progress(what, seconds_since(start_));
    }
}

// --messages: run until that many echoes are complete, or until an error or a stall
// (no echo for --timeout) says they never will be.
void Run::wait_for_messages() {
    std::uint64_t last = 0;
    auto last_change = Clock::now();
    for (;;) {
        Totals t = totals(workers_);
        if (t.messages >= opt_.messages || t.errors > 0) return;
        if (t.messages != last) last = t.messages, last_change = Clock::now();
        if (seconds_since(last_change) > opt_.timeout) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        progress("measure", seconds_since(start_));
    }
}

// Hold mode: wait until every connection is established and the server holds a
// descriptor for each of them, so the RSS read next includes every connection.
void Run::hold_open() {
    const auto n = static_cast<std::uint64_t>(opt_.connections);
    auto deadline = Clock::now() + std::chrono::duration<double>(2 * opt_.timeout);
    while (Clock::now() < deadline) {
        Totals t = totals(workers_);
        bool server_has_all = opt_.server_pid == 0 || harness::proc::fd_count(opt_.server_pid).value_or(-1) >=
                                                          base_.fds + long(t.connected);
        if (t.connected + t.errors >= n && server_has_all) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        progress("open", seconds_since(start_));
    }
    std::fprintf(stderr, "echo-bench: the server did not accept all %llu connections within %.1fs\n",
                 static_cast<unsigned long long>(n), 2 * opt_.timeout);
}

int Run::execute() {
    const bool hold = opt_.mode == Mode::hold;
    show_progress_ = !opt_.quiet && (opt_.warmup + opt_.duration > 3 || opt_.messages != 0 || hold);
    base_ = sample(opt_.server_pid);
    shared_.budget = opt_.messages;
    if (!hold && opt_.warmup == 0) shared_.phase = Phase::measure;

    for (int i = 0; i < opt_.threads; ++i) {
        int share = opt_.connections / opt_.threads + (i < opt_.connections % opt_.threads ? 1 : 0);
        workers_.push_back(std::make_unique<Worker>(shared_, i, share));
    }
    std::vector<std::thread> threads;
    for (auto& w : workers_)
        threads.emplace_back([&w] {
            try {
                w->run();
            } catch (const std::exception& e) {  // epoll itself failed: nothing to measure
                std::fprintf(stderr, "echo-bench: %s\n", e.what());
                std::exit(1);
            }
        });

    if (hold)
        hold_open();
    else
        wait(opt_.warmup, "warmup");

    ServerSample before = sample(opt_.server_pid);
    const double client_cpu_before = own_cpu_seconds();
    auto t0 = Clock::now();
    shared_.phase = Phase::measure;
    if (opt_.messages != 0)
        wait_for_messages();
    else
        wait(opt_.duration, hold ? "hold" : "measure");
    ServerSample end = sample(opt_.server_pid);
    const double client_cpu = own_cpu_seconds() - client_cpu_before;
    double window = seconds_since(t0);
    idle_ = end;

    shared_.phase = Phase::drain;
    while (shared_.quiet_workers.load(std::memory_order_acquire) < opt_.threads) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        progress("drain", seconds_since(start_));
    }
    echoed_ = sample(opt_.server_pid);
    shared_.phase = Phase::done;
    for (auto& t : threads)
        t.join();

    report(window, client_cpu, before, end);
    Errors errors;
    for (const auto& w : workers_)
        errors.add(w->errors);
    return errors.total() == 0 ? 0 : 1;
}

// Latencies in microseconds, sizes in bytes, rates per second; MB are 10^6 bytes.
void Run::report(double window, double client_cpu, const ServerSample& before, const ServerSample& end) {
    harness::Latencies latency;
    Errors errors;
    Totals t = totals(workers_);
    for (const auto& w : workers_) {
        latency.merge(w->latency);
        errors.add(w->errors);
    }
    auto us = [&](double p) { return harness::to_ms(latency.percentile(p)) * 1e3; };
    const double max_us = harness::to_ms(latency.max()) * 1e3;
    const double msg_rate = static_cast<double>(t.messages) / window;
    const double mb_rate = static_cast<double>(t.bytes) / window / 1e6;
    const double cpu = before.cpu >= 0 && end.cpu >= 0 ? end.cpu - before.cpu : -1;
    const double cpu_per_million =
        cpu >= 0 && t.messages > 0 ? cpu / static_cast<double>(t.messages) * 1e6 : -1;
    const long n = opt_.connections;
    auto per_conn = [&](const ServerSample& s) {
        return s.rss >= 0 && base_.rss >= 0 ? static_cast<double>(s.rss - base_.rss) * 1024 / double(n) : -1;
    };
    const bool hold = opt_.mode == Mode::hold;
    const std::string url = opt_.address.url();

    if (opt_.json) {
        Json j;
        j.str("mode", mode_name(opt_.mode)).str("address", url).num("threads", opt_.threads);
        j.num("connections", opt_.connections)
            .num("size", double(opt_.size))
            .num("in_flight", double(opt_.in_flight));
        j.num("seconds", window).num("messages", double(t.messages)).num("messages_per_s", msg_rate);
        j.num("bytes", double(t.bytes))
            .num("mb_per_s", mb_rate)
            .num("sent_mb_per_s", double(t.sent) / window / 1e6);
        j.num("connects_per_s", double(t.connects) / window).num("client_cpu_s", client_cpu);
        j.open("latency_us").num("count", double(latency.count())).num("p50", us(50)).num("p99", us(99));
        j.num("p999", us(99.9)).num("max", max_us).close();
        j.open("errors").num("total", double(errors.total())).num("mismatch", double(errors.mismatch));
        j.num("extra", double(errors.extra)).num("short", double(errors.short_echo));
        j.num("closed", double(errors.closed))
            .num("connect", double(errors.connect))
            .num("io", double(errors.io));
        j.close().open("server").num("pid", opt_.server_pid).num("cpu_s", cpu);
        j.num("cpu_s_per_million", cpu_per_million).num("rss_kib", double(end.rss));
        j.num("peak_rss_kib", double(end.peak_rss)).num("rss_base_kib", double(base_.rss));
        if (hold) {
            j.num("rss_idle_kib", double(idle_.rss)).num("rss_after_echo_kib", double(echoed_.rss));
            j.num("bytes_per_idle_conn", per_conn(idle_)).num("bytes_per_conn_after_echo", per_conn(echoed_));
        }
        std::printf("%s\n", j.close().close().text().c_str());  // "server", then the whole
        return;
    }
    std::printf("echo-bench %s %s: %d thread(s), %d connection(s), %zu-byte %s, %.2f s %s\n",
                mode_name(opt_.mode), url.c_str(), opt_.threads, opt_.connections, opt_.size,
                opt_.mode == Mode::stream ? "writes" : "messages", window, hold ? "held" : "measured");
    if (opt_.mode == Mode::connect)
        std::printf("  connections  %llu (%.0f/s), each one echo and a clean half-close\n",
                    static_cast<unsigned long long>(t.connects), static_cast<double>(t.connects) / window);
    else if (opt_.mode == Mode::ping)
        std::printf("  messages     %llu (%.0f/s)\n", static_cast<unsigned long long>(t.messages), msg_rate);
    if (hold)
        std::printf("  echoed       one message on each of %llu connections, every byte checked\n",
                    static_cast<unsigned long long>(t.messages));
    else
        std::printf("  echoed       %.2f MB (%.2f MB/s), every byte checked\n",
                    static_cast<double>(t.bytes) / 1e6, mb_rate);
    // A server that reads without bound accepts bytes far faster than it echoes them;
    // a tool that counts what it sent would call that speed.
    if (opt_.mode == Mode::stream)
        std::printf("  sent         %.2f MB/s while measuring\n", static_cast<double>(t.sent) / window / 1e6);
    if (latency.count() > 0)
        std::printf("  latency      p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n", us(50), us(99),
                    us(99.9), max_us);
    if (opt_.server_pid != 0 && !hold) {
        std::printf("  server       %.3f CPU s", cpu);
        if (cpu_per_million >= 0) std::printf(" (%.3f per million messages)", cpu_per_million);
        std::printf(", RSS %ld KiB, peak %ld KiB\n", end.rss, end.peak_rss);
    }
    if (!hold)
        std::printf(
            "  busy         client %.0f%%%s of one CPU\n", client_cpu / window * 100,
            cpu >= 0
                ? (", server " + std::to_string(static_cast<int>(cpu / window * 100 + 0.5)) + "%").c_str()
                : "");
    if (opt_.server_pid != 0 && hold)
        std::printf(
            "  server RSS   %ld KiB before, %ld KiB with %ld idle connections (%.0f bytes each), "
            "%ld KiB after one echo on each (%.0f bytes each)\n",
            base_.rss, idle_.rss, n, per_conn(idle_), echoed_.rss, per_conn(echoed_));
    std::printf("  errors       %llu", static_cast<unsigned long long>(errors.total()));
    if (errors.total() > 0)
        std::printf(
            " (mismatch %llu, extra %llu, short %llu, closed %llu, connect %llu, io %llu)",
            static_cast<unsigned long long>(errors.mismatch), static_cast<unsigned long long>(errors.extra),
            static_cast<unsigned long long>(errors.short_echo),
            static_cast<unsigned long long>(errors.closed), static_cast<unsigned long long>(errors.connect),
            static_cast<unsigned long long>(errors.io));
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse_options(argc, argv);
    // SIGPIPE ignored, and the descriptor limit raised before a spawned server inherits it:
    // hold mode needs thousands.
    harness::prepare_client_process();
    std::unique_ptr<harness::Server> server;
    if (!options.server_command.empty()) {
        harness::ServerOptions spawn;
        spawn.path = options.server_command[0];
        spawn.args.assign(options.server_command.begin() + 1, options.server_command.end());
        spawn.listen = {options.address.url()};
        spawn.startup_timeout = std::chrono::seconds(10);
        try {
            server = harness::Server::start(spawn);
        } catch (const std::exception& e) {
            return std::fprintf(stderr, "echo-bench: %s\n", e.what()), 1;
        }
        if (!server->address().is_stream()) {
            std::fprintf(stderr, "echo-bench: the server announced '%s'\n", server->url().c_str());
            return 1;
        }
        options.address = server->address();
        options.server_pid = server->pid();
    }
    Run run(options);
    int status = 1;
    try {
        status = run.execute();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo-bench: %s\n", e.what());
    }
    if (server) {
        harness::ExitStatus stopped =
            server->stop(std::chrono::seconds(2));  // the contract: exit 0 within 2 s
        if (!stopped.clean()) {
            std::fprintf(stderr, "echo-bench: after SIGTERM the server: %s\n--- its stderr (tail) ---\n%s",
                         stopped.describe().c_str(), server->stderr_tail(4096).c_str());
            status = 1;
        }
    }
    return status;
}
