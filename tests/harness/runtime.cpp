// Deadlines, the watchdog and the registries it acts on.
#include "harness/case.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "harness/internal.hpp"

namespace harness {
namespace {

// One lock for the watchdog's state and both registries: the watchdog must see a
// consistent set when it fires, and close_socket() must not race with its shutdown().
// Never destroyed: the watchdog thread waits on the condition variable until the process
// exits, and destroying a condition variable with a waiter blocks forever.
struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::set<pid_t> pids;
    std::set<int> sockets;
    std::optional<Clock::time_point> deadline;
    milliseconds limit{0};
};
State& g = *new State;
std::atomic<bool> g_fired{false};
std::once_flag g_thread_once;

void watchdog_thread() {
    std::unique_lock lock(g.mutex);
    for (;;) {
        if (!g.deadline || g_fired) {
            g.cv.wait(lock);
            continue;
        }
        if (Clock::now() < *g.deadline) {
            g.cv.wait_until(lock, *g.deadline);
            continue;
        }
        g_fired = true;
        // Killing the server ends every wait on its sockets (they see EOF or a reset);
        // shutting the client sockets down covers --address mode, where we may not kill.
        for (pid_t pid : g.pids)
            ::kill(pid, SIGKILL);
        for (int fd : g.sockets)
            ::shutdown(fd, SHUT_RDWR);
        g.cv.notify_all();
    }
}

void ensure_thread() {
    std::call_once(g_thread_once, [] { std::thread(watchdog_thread).detach(); });
}

}  // namespace

// ------------------------------------------------------------------ deadlines

Clock::time_point Deadline::when() const {
    Clock::time_point case_at;
    bool in_case = internal::case_deadline(&case_at);
    if (!at_) return in_case ? case_at : Clock::now() + std::chrono::seconds(60);
    return in_case ? std::min(*at_, case_at) : *at_;
}

Duration Deadline::remaining() const {
    auto left = when() - Clock::now();
    return left > Duration::zero() ? left : Duration::zero();
}

int Deadline::poll_timeout_ms() const {
    auto left = remaining();
    auto ms = std::chrono::duration_cast<milliseconds>(left + milliseconds(1) - Duration(1)).count();
    if (ms > 1000 * 1000) ms = 1000 * 1000;
    return static_cast<int>(ms);
}

void sleep_for(Duration d) {
    ensure_thread();
    auto until = Clock::now() + d;
    std::unique_lock lock(g.mutex);
    while (!g_fired && Clock::now() < until)
        g.cv.wait_until(lock, until);
    lock.unlock();
    internal::check_watchdog();
}

// ------------------------------------------------------------------ watchdog

void watchdog_arm(Clock::time_point deadline, milliseconds limit) {
    ensure_thread();
    std::lock_guard lock(g.mutex);
    g.deadline = deadline;
    g.limit = limit;
    g_fired = false;
    g.cv.notify_all();
}

void watchdog_disarm() {
    std::lock_guard lock(g.mutex);
    g.deadline.reset();
    g_fired = false;
    g.cv.notify_all();
}

bool watchdog_fired() {
    return g_fired;
}

void prepare_client_process() {
    // A write to a socket the server has reset must fail with EPIPE, not kill the client.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, nullptr);
    // The scale cases and the benchmark's hold mode open thousands of client sockets.
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

void init_process() {
    prepare_client_process();
    ensure_thread();
}

namespace internal {

void register_pid(pid_t pid) {
    std::lock_guard lock(g.mutex);
    g.pids.insert(pid);
}

void unregister_pid(pid_t pid) {
    std::lock_guard lock(g.mutex);
    g.pids.erase(pid);
}

void register_socket(int fd) {
    std::lock_guard lock(g.mutex);
    g.sockets.insert(fd);
}

void close_socket(int fd) {
    if (fd < 0) return;
    std::lock_guard lock(g.mutex);
    g.sockets.erase(fd);
    ::close(fd);
}

std::string watchdog_message() {
    double seconds = static_cast<double>(g.limit.count()) / 1000.0;
    char text[96];
    std::snprintf(text, sizeof text, "watchdog: case exceeded %g s", seconds);
    return text;
}

void check_watchdog() {
    if (g_fired) throw Failure(watchdog_message());
}

bool case_deadline(Clock::time_point* at) {
    std::lock_guard lock(g.mutex);
    if (!g.deadline) return false;
    *at = *g.deadline;
    return true;
}

short wait_fd(int fd, short events, const Deadline& deadline) {
    for (;;) {
        check_watchdog();
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, deadline.poll_timeout_ms());
        check_watchdog();
        if (n > 0) return p.revents;
        if (n == 0) {
            if (deadline.expired()) return 0;
            continue;
        }
        if (errno != EINTR) throw Failure("poll: " + errno_name(errno));
    }
}

std::string errno_name(int err) {
    const char* name = strerrorname_np(err);
    std::string text = name ? name : ("errno " + std::to_string(err));
    return text + " (" + std::strerror(err) + ")";
}

}  // namespace internal
}  // namespace harness
