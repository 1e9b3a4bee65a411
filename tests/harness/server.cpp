// Starting, watching and stopping a server process.
#include "harness/server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "harness/internal.hpp"
#include "harness/proc.hpp"

namespace harness {
namespace {

constexpr std::size_t kKeepOutput = 16u << 20;
constexpr std::string_view kListening = "listening on ";

struct Spawned {
    pid_t pid = -1;
    int out = -1;  // read ends of the child's stdout and stderr
    int err = -1;
};

void close_pair(int p[2]) {
    if (p[0] >= 0) ::close(p[0]);
    if (p[1] >= 0) ::close(p[1]);
}

// fork/exec with stdin from /dev/null, stdout and stderr into pipes, and the requested
// RLIMIT_NOFILE. Between fork and exec the child only makes async-signal-safe calls: the
// harness has other threads, and one of them may hold a lock (malloc's) at fork time.
Spawned spawn(const std::string& path, const std::vector<std::string>& args, std::optional<rlim_t> soft,
              std::optional<rlim_t> hard) {
    std::vector<std::string> owned;
    owned.push_back(path);
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : owned)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    bool search = path.find('/') == std::string::npos;

    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    if (hard) limit.rlim_max = *hard;
    if (soft) limit.rlim_cur = *soft;
    if (limit.rlim_cur > limit.rlim_max) limit.rlim_cur = limit.rlim_max;
    bool set_limit = soft || hard;

    int out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(status, O_CLOEXEC) != 0) {
        int e = errno;
        close_pair(out), close_pair(err), close_pair(status);
        throw Failure("pipe2: " + internal::errno_name(e));
    }
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        int e = errno;
        close_pair(out), close_pair(err), close_pair(status);
        throw Failure("fork: " + internal::errno_name(e));
    }
    if (pid == 0) {
        // If the suite dies (a CTest timeout, a crash), the server must not outlive it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        // Ignored signals stay ignored across execve(2): give the server the default
        // SIGPIPE, or a server that forgets to ignore it would pass by our grace.
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; ++s)
            if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int e = 0;
        if (set_limit && ::setrlimit(RLIMIT_NOFILE, &limit) != 0) e = errno;
        int devnull = ::open("/dev/null", O_RDONLY);
        if (!e && (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0))
            e = errno;
        if (!e) {
            if (search)
                ::execvp(argv[0], argv.data());
            else
                ::execv(argv[0], argv.data());
            e = errno;
        }
        [[maybe_unused]] auto n = ::write(status[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    ::close(status[1]);
    // The status pipe closes on a successful exec (O_CLOEXEC) and carries errno otherwise.
    int child_errno = 0;
    ssize_t n;
    do
        n = ::read(status[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    ::close(status[0]);
    if (n == sizeof child_errno) {
        ::waitpid(pid, nullptr, 0);
        ::close(out[0]);
        ::close(err[0]);
        throw Failure("cannot run " + path + ": " + internal::errno_name(child_errno));
    }
    return {pid, out[0], err[0]};
}

ExitStatus decode(int status) {
    ExitStatus s;
    if (WIFEXITED(status)) {
        s.exited = true;
        s.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        s.signaled = true;
        s.signal = WTERMSIG(status);
    }
    return s;
}

}  // namespace

std::string ExitStatus::describe() const {
    if (timed_out) return "still running";
    if (exited) return "exit status " + std::to_string(code);
    if (signaled) {
        const char* name = sigabbrev_np(signal);
        return "killed by signal " + std::to_string(signal) + " (SIG" + (name ? name : "?") + ": " +
               strsignal(signal) + ")";
    }
    return "unknown status";
}

// ------------------------------------------------------------------ Server::Impl

struct Server::Impl {
    std::string path;
    pid_t pid = -1;
    int pidfd = -1;
    std::optional<ExitStatus> status;
    std::vector<common::Address> addresses;

    // Filled by the reader thread.
    mutable std::mutex mutex;
    std::condition_variable cv;
    std::string out, err, partial_line;
    std::size_t out_total = 0, err_total = 0;
    bool out_eof = false, err_eof = false;
    std::vector<std::string> listening;
    int wake[2] = {-1, -1};
    std::thread reader;

    void append(std::string& keep, std::size_t& total, const char* data, std::size_t n) {
        total += n;
        keep.append(data, n);
        if (keep.size() > kKeepOutput) keep.erase(0, keep.size() - kKeepOutput / 2);
    }

    void take_stdout(const char* data, std::size_t n) {
        append(out, out_total, data, n);
        partial_line.append(data, n);
        std::size_t nl;
        while ((nl = partial_line.find('\n')) != std::string::npos) {
            std::string line = partial_line.substr(0, nl);
            partial_line.erase(0, nl + 1);
            if (line.rfind(kListening, 0) == 0) listening.push_back(line.substr(kListening.size()));
        }
        if (partial_line.size() > 4096) partial_line.clear();
    }

    // Drains both pipes until EOF or until the destructor asks it to stop, so the server
    // never blocks writing a log line.
    void drain(int out_fd, int err_fd) {
        char buf[65536];
        pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
        for (;;) {
            if (fds[0].fd < 0 && fds[1].fd < 0) break;
            int n = ::poll(fds, 3, -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            for (int i = 0; i < 2; ++i) {
                if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
                if (got < 0 && errno == EINTR) continue;
                std::lock_guard lock(mutex);
                if (got > 0) {
                    if (i == 0)
                        take_stdout(buf, static_cast<std::size_t>(got));
                    else
                        append(err, err_total, buf, static_cast<std::size_t>(got));
                } else {
                    ::close(fds[i].fd);
                    fds[i].fd = -1;
                    (i == 0 ? out_eof : err_eof) = true;
                }
                cv.notify_all();
            }
            if (fds[2].revents & POLLIN) break;
        }
        for (int i = 0; i < 2; ++i)
            if (fds[i].fd >= 0) ::close(fds[i].fd);
        std::lock_guard lock(mutex);
        out_eof = err_eof = true;
        cv.notify_all();
    }

    // Non-blocking check; reaps and records the status once the process has exited.
    bool reap_if_exited() {
        if (status) return true;
        siginfo_t info{};
        // WNOWAIT first: unregister from the watchdog before the pid can be reused.
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
        if (info.si_pid == 0) return false;
        internal::unregister_pid(pid);
        int raw = 0;
        ::waitpid(pid, &raw, 0);
        status = decode(raw);
        if (pidfd >= 0) ::close(pidfd);
        pidfd = -1;
        return true;
    }

    ExitStatus wait_for_exit(Duration timeout) {
        auto until = Clock::now() + timeout;
        for (;;) {
            if (reap_if_exited()) return *status;
            auto left = until - Clock::now();
            if (left <= Duration::zero()) {
                ExitStatus s;
                s.timed_out = true;
                return s;
            }
            int ms = static_cast<int>(std::chrono::duration_cast<milliseconds>(left).count()) + 1;
            if (pidfd >= 0) {
                pollfd p{pidfd, POLLIN, 0};
                ::poll(&p, 1, ms);
            } else {
                std::this_thread::sleep_for(std::min(milliseconds(5), milliseconds(ms)));
            }
        }
    }

    ~Impl() {
        if (pid > 0 && !status) {
            ::kill(pid, SIGKILL);
            wait_for_exit(std::chrono::seconds(30));
        }
        if (reader.joinable()) {
            [[maybe_unused]] auto n = ::write(wake[1], "x", 1);
            reader.join();
        }
        close_pair(wake);
        if (pidfd >= 0) ::close(pidfd);
    }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

std::unique_ptr<Server> Server::start(const ServerOptions& options) {
    std::vector<std::string> args = options.args;
    for (const auto& url : options.listen) {
        args.push_back("--listen");
        args.push_back(url);
    }
    std::size_t expected = options.expect_listening >= 0 ? static_cast<std::size_t>(options.expect_listening)
                                                         : options.listen.size();

    auto impl = std::make_unique<Impl>();
    impl->path = options.path;
    if (::pipe2(impl->wake, O_CLOEXEC) != 0) throw Failure("pipe2: " + internal::errno_name(errno));
    Spawned child = spawn(options.path, args, options.nofile_soft, options.nofile_hard);
    impl->pid = child.pid;
    internal::register_pid(child.pid);
    impl->pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
    Impl* raw = impl.get();
    impl->reader = std::thread([raw, child] { raw->drain(child.out, child.err); });
    std::unique_ptr<Server> server(new Server(std::move(impl)));

    // Readiness is the announced line, never a guess with sleep().
    auto until = Clock::now() + scaled(options.startup_timeout);
    std::string why;
    for (;;) {
        {
            std::unique_lock lock(raw->mutex);
            raw->cv.wait_for(lock, milliseconds(20), [&] {
                return raw->listening.size() >= expected || (raw->out_eof && raw->err_eof);
            });
            if (raw->listening.size() >= expected) break;
        }
        if (raw->reap_if_exited()) {
            // Its last words may still be in the pipes: let the reader take them first, so that
            // the message below carries them (a stage that cannot run here says why there).
            std::unique_lock lock(raw->mutex);
            raw->cv.wait_for(lock, std::chrono::seconds(1), [&] { return raw->out_eof && raw->err_eof; });
            why = "exited (" + raw->status->describe() + ") before announcing " + std::to_string(expected) +
                  " 'listening on' line(s)";
            break;
        }
        internal::check_watchdog();
        if (Clock::now() >= until) {
            why = "did not announce " + std::to_string(expected) + " 'listening on' line(s) within " +
                  std::to_string(scaled(options.startup_timeout).count()) + " ms";
            break;
        }
    }
    if (why.empty()) {
        std::lock_guard lock(raw->mutex);
        for (std::size_t i = 0; i < expected; ++i) {
            std::string error;
            auto address = common::parse_address(raw->listening[i], &error);
            if (!address) {
                why = "announced an address that does not parse: '" + raw->listening[i] + "': " + error;
                break;
            }
            raw->addresses.push_back(*address);
        }
    }
    if (!why.empty()) {
        if (!raw->status) server->kill();
        throw Failure("server " + options.path + " " + why + "\n--- its stderr (tail) ---\n" +
                      server->stderr_tail(4096));
    }
    return server;
}

pid_t Server::pid() const {
    return impl_->pid;
}

const std::vector<common::Address>& Server::addresses() const {
    return impl_->addresses;
}

bool Server::alive() {
    return !impl_->reap_if_exited();
}

std::optional<ExitStatus> Server::exit_status() {
    impl_->reap_if_exited();
    return impl_->status;
}

void Server::signal(int sig) {
    if (!impl_->reap_if_exited()) ::kill(impl_->pid, sig);
}

ExitStatus Server::wait(Duration timeout) {
    return impl_->wait_for_exit(timeout);
}

ExitStatus Server::stop(Duration timeout) {
    signal(SIGTERM);
    return wait(timeout);
}

void Server::kill() {
    signal(SIGKILL);
    impl_->wait_for_exit(std::chrono::seconds(30));
}

double Server::cpu_seconds() {
    auto v = impl_->status ? std::nullopt : proc::cpu_seconds(impl_->pid);
    if (!v) throw Failure("server has exited: cannot read its CPU time");
    return *v;
}

std::size_t Server::rss_bytes() {
    auto v = impl_->status ? std::nullopt : proc::rss_bytes(impl_->pid);
    if (!v) throw Failure("server has exited (or is a zombie): cannot read its RSS");
    return *v;
}

int Server::fd_count() {
    auto v = impl_->status ? std::nullopt : proc::fd_count(impl_->pid);
    if (!v) throw Failure("server has exited: cannot count its descriptors");
    return *v;
}

char Server::proc_state() {
    return proc::state(impl_->pid);
}

bool Server::wait_for_state(char state, Duration timeout) {
    auto until = Clock::now() + timeout;
    auto pause = milliseconds(1);
    while (proc_state() != state) {
        if (Clock::now() >= until || !alive()) return false;
        sleep_for(pause);
        pause = std::min(pause * 2, milliseconds(10));
    }
    return true;
}

bool Server::asleep() {
    return !impl_->status && proc::all_threads_asleep(impl_->pid);
}

double Server::cpu_fraction_over(Duration interval) {
    double before = cpu_seconds();
    auto start = Clock::now();
    sleep_for(interval);
    double after = cpu_seconds();
    double wall = std::chrono::duration<double>(Clock::now() - start).count();
    return (after - before) / wall;
}

std::string Server::stderr_text() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->err;
}

std::string Server::stderr_tail(std::size_t max_bytes) const {
    std::lock_guard lock(impl_->mutex);
    const std::string& e = impl_->err;
    if (e.size() <= max_bytes) return e;
    return "[... " + std::to_string(impl_->err_total - max_bytes) + " bytes before this ...]\n" +
           e.substr(e.size() - max_bytes);
}

std::size_t Server::stderr_bytes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->err_total;
}

std::string Server::stdout_text() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->out;
}

std::size_t Server::stdout_bytes() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->out_total;
}

// ------------------------------------------------------------------ run_to_exit

RunResult run_to_exit(const std::string& path, const std::vector<std::string>& args, Duration timeout,
                      std::string_view kill_on_stdout) {
    Spawned child = spawn(path, args, std::nullopt, std::nullopt);
    internal::register_pid(child.pid);
    RunResult result;
    auto until = Clock::now() + timeout;
    pollfd fds[2] = {{child.out, POLLIN, 0}, {child.err, POLLIN, 0}};
    char buf[65536];
    while ((fds[0].fd >= 0 || fds[1].fd >= 0) && Clock::now() < until && !watchdog_fired()) {
        auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count() + 1;
        int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 100)));
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(got));
                if (i == 0 && !kill_on_stdout.empty() && result.out.find(kill_on_stdout) != std::string::npos)
                    ::kill(child.pid, SIGKILL);
            } else if (got == 0 || errno != EINTR) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
    }
    for (auto& p : fds)
        if (p.fd >= 0) ::close(p.fd);
    // Both pipes are closed once the program exits; give it until the deadline to do so.
    for (;;) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid != 0)
            break;
        if (Clock::now() >= until || watchdog_fired()) {
            result.status.timed_out = true;
            ::kill(child.pid, SIGKILL);
            break;
        }
        std::this_thread::sleep_for(milliseconds(2));
    }
    internal::unregister_pid(child.pid);
    int raw = 0;
    ::waitpid(child.pid, &raw, 0);
    if (!result.status.timed_out) result.status = decode(raw);
    return result;
}

}  // namespace harness
