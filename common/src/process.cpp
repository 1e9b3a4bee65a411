#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace common {
namespace {

const char* g_program = "server";
volatile sig_atomic_t g_stop = 0;
int g_stop_pipe[2] = {-1, -1};
bool g_trace = false;

void on_stop_signal(int) {
    int saved = errno;  // a handler must not clobber the errno of the code it interrupted
    g_stop = 1;
    // The pipe is non-blocking: if it is already full a stop is already pending.
    [[maybe_unused]] auto n = ::write(g_stop_pipe[1], "x", 1);
    errno = saved;
}

}  // namespace

void install_signal_handlers(const char* program) {
    g_program = program;
    if (g_stop_pipe[0] < 0) {
        if (::pipe(g_stop_pipe) != 0) die("pipe", errno);
        for (int fd : g_stop_pipe) {
            // Non-blocking so the handler never blocks on a full pipe; close-on-exec so a
            // child process does not inherit it. Set before any signal can arrive.
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
    }
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, nullptr);
    struct sigaction stop {};
    stop.sa_handler = on_stop_signal;
    sigemptyset(&stop.sa_mask);
    stop.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR so the caller sees the request
    sigaction(SIGINT, &stop, nullptr);
    sigaction(SIGTERM, &stop, nullptr);
}

bool stop_requested() {
    return g_stop != 0;
}

int stop_fd() {
    return g_stop_pipe[0];
}

void announce_listening(const std::string& url) {
    std::printf("listening on %s\n", url.c_str());
    std::fflush(stdout);
}

void die(const std::string& what, int errno_value) {
    if (errno_value != 0)
        std::fprintf(stderr, "%s: %s: %s\n", g_program, what.c_str(), std::strerror(errno_value));
    else
        std::fprintf(stderr, "%s: %s\n", g_program, what.c_str());
    std::exit(1);
}

void set_trace(bool enabled) {
    g_trace = enabled;
}

bool tracing() {
    return g_trace;
}

void trace(const char* format, ...) {
    if (!g_trace) return;
    // Callers trace a failed call and then look at errno: printing must not change it.
    int saved = errno;
    char line[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    // One fprintf per line so lines from several threads never interleave mid-line.
    std::fprintf(stderr, "%s\n", line);
    errno = saved;
}

const char* errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    if (const char* name = strerrorname_np(err)) return name;
#else
    (void)err;  // no portable way to name it; the stages that trace are Linux's
#endif
    return "?";
}

void warn_limited(const char* key, const std::string& message) {
    struct State {
        time_t last = 0;
        unsigned long suppressed = 0;
    };
    static std::mutex mutex;
    static std::map<std::string, State> states;
    std::lock_guard lock(mutex);
    auto& state = states[key];
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (state.last != 0 && now.tv_sec == state.last) {
        ++state.suppressed;
        return;
    }
    if (state.suppressed)
        std::fprintf(stderr, "%s: %s (%lu similar messages suppressed)\n", g_program, message.c_str(),
                     state.suppressed);
    else
        std::fprintf(stderr, "%s: %s\n", g_program, message.c_str());
    state.last = now.tv_sec;
    state.suppressed = 0;
}

}  // namespace common
