// docs-check transcripts ROOT BIN_DIR [TIMEOUT_SECONDS]: runs the command blocks the
// markdown marks as transcripts and compares what they print with what the page shows.
//
//   <!-- transcript -->                                   or, with a server to talk to,
//   <!-- transcript: server=stage01-echo needs=nc -->
//   ```text
//   $ printf 'hello\n' | nc -N 127.0.0.1 5000
//   hello
//   ```
//
// A line starting with "$ " is a command (a trailing backslash continues it on the next
// line); the lines after it, up to the next command, are what it prints on stdout and
// stderr together. Commands run with sh in ROOT, stdin empty and EVLOOP_TEST_TIME_SCALE=1;
// "build/bin/" in a command means BIN_DIR. With server=NAME, BIN_DIR/NAME is started on
// a free port first and "127.0.0.1 5000" and "127.0.0.1:5000" in the commands mean that
// port. needs=TOOL,... names programs the block runs; when one is missing the check says
// skipped (exit 77) with the line that installs it. A command that has not finished after
// the timeout (default 20 s) fails the check: that is how a command that waits for input
// it will never get shows up. Durations such as "(1.01 s)" are not compared.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "docs.hpp"

namespace docs {
namespace {

using Clock = std::chrono::steady_clock;

struct Command {
    std::string text;
    Lines expected;
    size_t line = 0;  // where it starts in the markdown file
};

struct Block {
    std::string where;
    std::string server;
    std::vector<std::string> needs;
    std::vector<Command> commands;
};

std::vector<std::string> split_on(const std::string& s, char sep) {
    std::vector<std::string> parts;
    std::stringstream in(s);
    for (std::string part; std::getline(in, part, sep);)
        if (!part.empty()) parts.push_back(part);
    return parts;
}

std::vector<Block> find_blocks(const std::string& md, const Lines& lines, Problems* problems) {
    std::vector<Block> blocks;
    for (size_t i = 0; i < lines.size(); ++i) {
        auto directive = comment_directive(lines[i], "transcript");
        if (!directive) continue;
        Block block;
        block.where = md + ":" + std::to_string(i + 1);
        for (const auto& word : split_on(*directive, ' ')) {
            auto eq = word.find('=');
            std::string key = word.substr(0, eq), value = eq == std::string::npos ? "" : word.substr(eq + 1);
            if (key == "server")
                block.server = value;
            else if (key == "needs")
                block.needs = split_on(value, ',');
            else
                problems->report(block.where, "unknown transcript option '" + word + "'");
        }
        if (i + 1 >= lines.size() || !is_fence(lines[i + 1])) {
            problems->report(block.where, "transcript is not followed by a fenced code block");
            continue;
        }
        size_t j = i + 2;
        for (; j < lines.size() && !is_fence(lines[j]); ++j) {
            const std::string& line = lines[j];
            if (starts_with(line, "$ ")) {
                Command c{line.substr(2), {}, j + 1};
                while (!c.text.empty() && c.text.back() == '\\' && j + 1 < lines.size()) {
                    c.text.pop_back();
                    c.text += std::string(trim(lines[++j]));
                }
                block.commands.push_back(c);
            } else if (!block.commands.empty()) {
                block.commands.back().expected.push_back(line);
            } else {
                problems->report(md + ":" + std::to_string(j + 1), "output before the first '$ ' command");
            }
        }
        if (block.commands.empty()) problems->report(block.where, "transcript without a '$ ' command");
        blocks.push_back(block);
        i = j;
    }
    return blocks;
}

void replace_all(std::string* s, const std::string& from, const std::string& to) {
    for (size_t at = s->find(from); at != std::string::npos; at = s->find(from, at + to.size()))
        s->replace(at, from.size(), to);
}

// "(1.01 s)" -> "(… s)": how long a case took is not part of what it says.
std::string mask_durations(const std::string& line) {
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '(') {
            size_t j = i + 1;
            while (j < line.size() && (std::isdigit(static_cast<unsigned char>(line[j])) || line[j] == '.'))
                ++j;
            if (j > i + 1 && line.compare(j, 3, " s)") == 0) {
                out += "(… s)";
                i = j + 2;
                continue;
            }
        }
        out += line[i];
    }
    return out;
}

bool on_path(const std::string& tool) {
    const char* path = std::getenv("PATH");
    for (const auto& dir : split_on(path ? path : "/usr/bin:/bin", ':'))
        if (::access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
    return false;
}

std::string install_line(const std::string& tool) {
    static const std::map<std::string, std::string> kPackages = {{"nc", "netcat-openbsd"},
                                                                 {"socat", "socat"}};
    auto it = kPackages.find(tool);
    return "apt-get install -y " + (it == kPackages.end() ? tool : it->second);
}

struct Child {
    pid_t pid = -1;
    int out = -1;
};

// sh -c TEXT in its own process group, stdin from /dev/null, stdout (and stderr, when
// merge_stderr) into one pipe.
Child start(const std::vector<std::string>& argv, const std::string& cwd, bool merge_stderr) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {};
    pid_t pid = ::fork();
    if (pid < 0) return {};
    if (pid == 0) {
        ::setpgid(0, 0);
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(fds[1], 1);
        ::dup2(merge_stderr ? fds[1] : 2, 2);
        if (::chdir(cwd.c_str()) != 0) _exit(127);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        _exit(127);
    }
    ::setpgid(pid, pid);
    ::close(fds[1]);
    return {pid, fds[0]};
}

// Reads until EOF or the deadline; false on the deadline. With stop_at_newline, returns
// as soon as one whole line has arrived.
bool read_until(int fd, Clock::time_point deadline, std::string* out, bool stop_at_newline = false) {
    char buf[4096];
    for (;;) {
        if (stop_at_newline && out->find('\n') != std::string::npos) return true;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0)
            out->append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR)
            return true;
    }
}

int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

}  // namespace

int check_transcripts(const std::string& root, const std::string& bin_dir, double timeout_seconds) {
    ::setenv("EVLOOP_TEST_TIME_SCALE", "1", 1);
    ::signal(SIGPIPE, SIG_IGN);
    Problems problems;
    std::vector<std::string> skipped;
    int ran = 0;
    auto timeout = std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
    for (const auto& md : markdown_files(root)) {
        auto text = read_file(root + "/" + md);
        if (!text) continue;
        for (auto& block : find_blocks(md, split_lines(*text), &problems)) {
            std::string missing;
            for (const auto& tool : block.needs)
                if (!on_path(tool))
                    missing += (missing.empty() ? "" : ", ") + tool + " (" + install_line(tool) + ")";
            if (!missing.empty()) {
                skipped.push_back(block.where + ": needs " + missing);
                continue;
            }
            Child server;
            std::string port;
            if (!block.server.empty()) {
                server = start({bin_dir + "/" + block.server, "--listen", "tcp://127.0.0.1:0"}, root, false);
                std::string line;
                if (server.pid < 0 || !read_until(server.out, Clock::now() + timeout, &line, true) ||
                    line.rfind("listening on tcp://127.0.0.1:", 0) != 0) {
                    problems.report(block.where, "could not start " + block.server + " (" + line + ")");
                    if (server.pid > 0) ::kill(server.pid, SIGKILL), reap(server.pid);
                    continue;
                }
                port = line.substr(line.rfind(':') + 1);
                port.erase(port.find_last_not_of("\r\n") + 1);
            }
            for (const auto& command : block.commands) {
                std::string run = command.text;
                replace_all(&run, "build/bin/", bin_dir + "/");
                if (!port.empty()) {
                    replace_all(&run, "127.0.0.1:5000", "127.0.0.1:" + port);
                    replace_all(&run, "127.0.0.1 5000", "127.0.0.1 " + port);
                }
                std::string where = md + ":" + std::to_string(command.line);
                Child child = start({"/bin/sh", "-c", run}, root, true);
                std::string output;
                bool finished = child.pid > 0 && read_until(child.out, Clock::now() + timeout, &output);
                if (child.pid > 0) {
                    if (!finished) ::kill(-child.pid, SIGKILL);
                    ::close(child.out);
                    reap(child.pid);
                }
                ++ran;
                if (!finished) {
                    problems.report(where, "'" + command.text + "' did not finish within " +
                                               std::to_string(timeout.count() / 1000) +
                                               " s (does it wait for input, or for the peer to close?)");
                    continue;
                }
                Lines got = split_lines(output), want = command.expected;
                for (auto* lines : {&got, &want})
                    for (auto& l : *lines)
                        l = mask_durations(l);
                if (got != want) {
                    std::string diff;
                    for (const auto& l : want)
                        diff += "\n    page: " + l;
                    for (const auto& l : got)
                        diff += "\n    real: " + l;
                    problems.report(where, "'" + command.text + "' prints something else:" + diff);
                }
            }
            if (server.pid > 0) {
                ::kill(server.pid, SIGTERM);
                ::close(server.out);
                reap(server.pid);
            }
        }
    }
    if (problems.count > 0) return 1;
    for (const auto& s : skipped)
        std::printf("skipped: %s\n", s.c_str());
    std::printf("%d transcript command(s) ran and printed what the page shows\n", ran);
    return skipped.empty() ? 0 : 77;
}

}  // namespace docs
