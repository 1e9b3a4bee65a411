#include "spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

Spawned spawn_server(const std::vector<std::string>& argv, const std::string& listen, double timeout,
                     std::string* error) {
    Spawned s;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        *error = std::string("pipe2: ") + std::strerror(errno);
        return s;
    }
    std::vector<std::string> args = argv;
    args.insert(args.end(), {"--listen", listen});
    std::vector<char*> cargs;
    for (auto& a : args)
        cargs.push_back(a.data());
    cargs.push_back(nullptr);

    pid_t pid = fork();
    if (pid < 0) {
        *error = std::string("fork: ") + std::strerror(errno);
        return s;
    }
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);  // dup2 clears close-on-exec on the copy
        signal(SIGPIPE, SIG_DFL);        // do not hand our ignored SIGPIPE to the server
        execvp(cargs[0], cargs.data());
        _exit(127);
    }
    ::close(pipefd[1]);
    s.pid = pid;
    s.out = pipefd[0];

    // Read its stdout up to the first "listening on" line, never past a deadline.
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
    std::string text;
    const std::string marker = "listening on ";
    for (;;) {
        auto at = text.find(marker);
        auto eol = at == std::string::npos ? std::string::npos : text.find('\n', at);
        if (eol != std::string::npos) {
            s.url = text.substr(at + marker.size(), eol - at - marker.size());
            return s;
        }
        pollfd p{s.out, POLLIN, 0};
        int ready = poll(&p, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) continue;
        char buf[512];
        ssize_t n = ready > 0 ? read(s.out, buf, sizeof buf) : 0;
        if (n <= 0) {
            *error = ready > 0 ? argv[0] + " exited (or closed stdout) without a 'listening on' line"
                               : "no 'listening on' line from " + argv[0] + " in time";
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    std::string ignored;
    stop_server(s, 0, &ignored);
    s.pid = -1;
    return s;
}

bool stop_server(Spawned& server, double timeout, std::string* error) {
    if (server.pid <= 0) return true;
    kill(server.pid, SIGTERM);
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(server.pid, &status, WNOHANG)) == 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    bool ok = done == server.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (done == 0) {
        kill(server.pid, SIGKILL);
        waitpid(server.pid, &status, 0);
        *error = "the server did not exit within " + std::to_string(timeout) + " s of SIGTERM";
    } else if (!ok) {
        *error = WIFSIGNALED(status) ? "the server died of signal " + std::to_string(WTERMSIG(status))
                                     : "the server exited with status " + std::to_string(WEXITSTATUS(status));
    }
    if (server.out >= 0) ::close(server.out);
    server.out = -1;
    server.pid = -1;
    return ok;
}

}  // namespace bench
