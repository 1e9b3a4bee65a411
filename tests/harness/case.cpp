// The frame around one test case: target, server, watchdog, end-of-case checks.
#include "harness/case.hpp"

#include <doctest/doctest.h>
#include <signal.h>

#include <exception>

#include "harness/internal.hpp"

namespace harness {
namespace {

Target g_target;
CaseRecord g_record;

}  // namespace

void set_target(Target t) {
    g_target = std::move(t);
}

const Target& target() {
    return g_target;
}

ServerOptions target_server_options() {
    ServerOptions o;
    o.path = g_target.server_path;
    o.args = g_target.server_args;
    return o;
}

CaseRecord& current_record() {
    return g_record;
}

void reset_record() {
    g_record = CaseRecord{};
}

Case::Case(CaseOptions options) : options_(std::move(options)) {
    CaseRecord& record = current_record();
    bool own = options_.needs_own_server || options_.nofile_soft || options_.nofile_hard;
    if (target().address_mode() && own) {
        skipped_ = true;
        record.skipped = true;
        record.skip_reason =
            "it must start, signal or limit the server itself, which --address does not allow";
        return;
    }
    auto limit = scaled(options_.limit);
    deadline_ = Clock::now() + limit;
    watchdog_arm(deadline_, limit);
    try {
        if (target().address_mode()) {
            std::string error;
            address_ = common::parse_address(target().address_url, &error);
            if (!address_) throw Failure("--address " + target().address_url + ": " + error);
        } else if (options_.start_server) {
            server_ = Server::start(server_options());
            address_ = server_->address();
            baseline_fds_ = server_->fd_count();
        }
    } catch (...) {
        // A server that cannot start is never the reason a case is expected to fail.
        if (watchdog_fired()) {
            record.watchdog = true;
        } else {
            record.crashed = true;
            record.crash = "the server did not start";
        }
        watchdog_disarm();
        throw;
    }
}

Case::~Case() {
    if (skipped_) return;
    CaseRecord& record = current_record();
    // An exception on its way out has already failed the case: record what we learn
    // about the server, but do not pile on more checks.
    bool unwinding = std::uncaught_exceptions() > 0;
    try {
        if (server_) {
            // A client's error is often the first sign of a dying server: its sockets close
            // before it can be reaped (_exit(2)). Give it a moment, so the report says so.
            if (unwinding && server_->alive()) server_->wait(milliseconds(100));
            if (!server_->alive()) {
                ExitStatus status = *server_->exit_status();
                bool by_watchdog = watchdog_fired() && status.signaled && status.signal == SIGKILL;
                if (!by_watchdog && (options_.expect_alive || status.signaled)) {
                    record.crashed = true;
                    record.crash = status.describe();
                    std::string what = "the server died during the case: " + status.describe();
                    FAIL_CHECK(what);
                }
            } else if (options_.check_fds && !unwinding && !watchdog_fired() && baseline_fds_ >= 0) {
                int now = wait_for_fd_baseline();
                if (now > baseline_fds_) {
                    std::string what = "the server holds " + std::to_string(now) + " descriptors, " +
                                       std::to_string(now - baseline_fds_) + " more than its baseline of " +
                                       std::to_string(baseline_fds_) + " before the case";
                    FAIL_CHECK(what);
                }
            }
            record.server_stderr_tail = server_->stderr_tail(4096);
        }
    } catch (const std::exception& e) {
        // A watchdog that fired here is reported just below, once.
        if (!unwinding && !watchdog_fired()) FAIL_CHECK(std::string(e.what()));
    }
    if (watchdog_fired()) {
        record.watchdog = true;
        if (!unwinding) FAIL_CHECK(internal::watchdog_message());
    }
    watchdog_disarm();
}

const common::Address& Case::address() const {
    if (!address_) throw Failure("this case has no server address (start_server = false)");
    return *address_;
}

std::unique_ptr<Server> Case::start_server(const ServerOptions& options) {
    return Server::start(options);
}

ServerOptions Case::server_options() const {
    ServerOptions o = target_server_options();
    o.args.insert(o.args.end(), options_.extra_args.begin(), options_.extra_args.end());
    o.nofile_soft = options_.nofile_soft;
    o.nofile_hard = options_.nofile_hard;
    return o;
}

ServerOptions Case::server_options(std::vector<std::string> listen) const {
    ServerOptions o = server_options();
    o.listen = std::move(listen);
    return o;
}

Deadline Case::deadline() const {
    return Deadline::at(deadline_);
}

void Case::rebaseline_fds() {
    if (server_) baseline_fds_ = server_->fd_count();
}

int Case::wait_for_fd_baseline(milliseconds timeout) {
    if (!server_) return -1;
    // Stop short of the watchdog, so that a leak is reported as a leak.
    auto until = std::min(Clock::now() + scaled(timeout), deadline_ - milliseconds(50));
    auto pause = milliseconds(1);
    for (;;) {
        int n = server_->fd_count();
        if (n <= baseline_fds_ || Clock::now() >= until) return n;
        // Closing is the server's business and takes it a moment after our close():
        // poll the count rather than guess a delay.
        sleep_for(pause);
        pause = std::min(pause * 2, milliseconds(20));
    }
}

}  // namespace harness
