// One conformance case's frame: what the suite is pointed at, the watchdog, the server the
// case starts, and the checks every case ends with.
#pragma once

#include <sys/resource.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "harness/server.hpp"
#include "harness/time.hpp"

namespace harness {

// What the suite is pointed at; set once by the conformance program's main().
struct Target {
    std::string server_path{};               // --server PATH
    std::vector<std::string> server_args{};  // after "--"
    std::string address_url{};               // --address URL (then server_path is empty)
    // --fds-per-client N: descriptors the server holds for each connected client. An
    // echo server holds one; a relay two (the client's and the one toward its backend).
    int fds_per_client = 1;
    bool address_mode() const { return !address_url.empty(); }
};
void set_target(Target t);
const Target& target();

// Options for a server started from the target: its args plus these.
ServerOptions target_server_options();

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
//   TEST_CASE("one line is echoed") {
//       Case c;
//       if (c.skipped()) return;
//       Conn conn = Conn::connect(c.address());
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
    // Starts another server (restart cases, or the case's own with start_server = false).
    std::unique_ptr<Server> start_server(const ServerOptions& options);
    ServerOptions server_options() const;  // the target's options with this case's extras
    // The same, listening on these URLs instead of the default one.
    ServerOptions server_options(std::vector<std::string> listen) const;
    Deadline deadline() const;  // the watchdog deadline
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

// Called once by the conformance program's main(): prepare_client_process() and the
// watchdog thread.
void init_process();

// What every client program needs: SIGPIPE ignored (a write to a reset connection must fail
// with EPIPE, not kill the client) and the soft descriptor limit raised to the hard one.
void prepare_client_process();

}  // namespace harness
