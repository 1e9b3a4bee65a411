// Starting, watching and stopping a server that follows the contract: it takes `--listen URL`,
// prints one "listening on URL" line per listener once it is ready, and exits 0 on SIGTERM.
// The suite's cases and echo-bench start their servers through this one spawner.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "harness/time.hpp"

namespace harness {

struct ExitStatus {
    bool exited = false;  // exit() was called; code is valid
    int code = 0;
    bool signaled = false;  // killed by a signal; signal is valid
    int signal = 0;
    bool timed_out = false;  // still running when the wait gave up
    bool clean() const { return exited && code == 0; }
    std::string describe() const;  // "exit status 0", "killed by signal 13 (SIGPIPE: Broken pipe)", ...
};

struct ServerOptions {
    std::string path{};               // the server binary (looked up in PATH when it has no '/')
    std::vector<std::string> args{};  // given before the --listen options
    // One "--listen URL" is appended per entry; leave empty to add none (then set
    // expect_listening yourself).
    std::vector<std::string> listen{"tcp://127.0.0.1:0"};
    int expect_listening = -1;  // "listening on" lines to wait for; -1 = listen.size()
    // RLIMIT_NOFILE for the server (setrlimit in the child before exec). When unset the
    // server inherits the caller's limits.
    std::optional<rlim_t> nofile_soft{};
    std::optional<rlim_t> nofile_hard{};  // unset: keep the inherited hard limit
    milliseconds startup_timeout{5000};   // scaled
};

// A running server. Its stdout and stderr are drained by a thread from the start, so it
// never blocks on a full pipe. It is registered with the watchdog, and the destructor kills
// (SIGKILL) and reaps it.
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

    // harness::proc's readers for this process. Throw Failure when it is gone.
    double cpu_seconds();
    std::size_t rss_bytes();
    int fd_count();
    char proc_state();  // '?' once it is gone
    // Waits until proc_state() is `state` (e.g. 'T' after SIGSTOP); false on timeout.
    bool wait_for_state(char state, Duration timeout);
    bool asleep();  // every thread asleep; false once it has exited

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

}  // namespace harness
