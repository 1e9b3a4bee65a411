#include "support.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace redis_test {

std::optional<std::string> find_program(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (std::size_t at = 0; at <= dirs.size();) {
        std::size_t end = std::min(dirs.find(':', at), dirs.size());
        std::string candidate = dirs.substr(at, end - at) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        at = end + 1;
    }
    return std::nullopt;
}

std::string require_program(const std::string& program, const std::string& debian_package) {
    if (auto found = find_program(program)) return *found;
    std::printf("SKIPPED: %s is not installed. Install it with: apt-get install -y %s\n", program.c_str(),
                debian_package.c_str());
    std::fflush(stdout);
    std::exit(kSkipped);
}

int port_of(const harness::Server& server) {
    return server.address().port;
}

std::unique_ptr<harness::Server> start_stage04(const std::string& path,
                                               const std::vector<std::string>& args) {
    harness::ServerOptions options;
    options.path = path;
    options.args = args;
    return harness::Server::start(options);
}

namespace {

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw harness::Failure(std::string("cannot find a free port: ") + std::strerror(errno));
    ::close(fd);
    return ntohs(a.sin_port);
}

}  // namespace

RealRedis start_redis_server(const std::string& redis_server_path, const std::vector<std::string>& args) {
    std::string why;
    for (int attempt = 0; attempt < 5; ++attempt) {
        int port = free_port();
        harness::ServerOptions options;
        options.path = redis_server_path;
        options.args = {"--port",       std::to_string(port),
                        "--bind",       "127.0.0.1",
                        "--save",       "",
                        "--appendonly", "no",
                        "--databases",  "1",
                        "--io-threads", "1",
                        "--logfile",    "",
                        "--daemonize",  "no",
                        "--dir",        std::filesystem::temp_directory_path().string()};
        options.args.insert(options.args.end(), args.begin(), args.end());
        options.listen = {};
        options.expect_listening = 0;
        auto process = harness::Server::start(options);
        auto until = harness::Clock::now() + harness::scaled(milliseconds(10000));
        while (harness::Clock::now() < until) {
            if (process->stdout_text().find("Ready to accept connections") != std::string::npos)
                return {std::move(process), port};
            if (!process->alive()) break;  // most likely the port was taken meanwhile: try another
            std::this_thread::sleep_for(milliseconds(5));
        }
        why = process->stdout_text().substr(0, 2000) + process->stderr_tail(2000);
    }
    throw harness::Failure("redis-server did not start:\n" + why);
}

harness::RunResult run_with_input(const std::string& program, const std::vector<std::string>& args,
                                  std::string_view input, harness::Duration timeout) {
    char name[] = "/tmp/redis-test-input-XXXXXX";
    int fd = ::mkstemp(name);
    if (fd < 0) throw harness::Failure(std::string("mkstemp: ") + std::strerror(errno));
    bool written = ::write(fd, input.data(), input.size()) == static_cast<ssize_t>(input.size());
    ::close(fd);
    if (!written) throw harness::Failure("cannot write the input file");
    std::vector<std::string> sh_args = {"-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", name, program};
    sh_args.insert(sh_args.end(), args.begin(), args.end());
    auto result = harness::run_to_exit("/bin/sh", sh_args, timeout);
    ::unlink(name);
    return result;
}

// ------------------------------------------------------------------ RawClient

RawClient::RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw harness::Failure("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {

int wait_ms(harness::Clock::time_point until) {
    auto left = std::chrono::duration_cast<milliseconds>(until - harness::Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left) + 1;
}

// Each public wait takes an unscaled bound; this is the deadline it becomes.
harness::Clock::time_point deadline(harness::Duration timeout) {
    return harness::Clock::now() + harness::scaled(std::chrono::duration_cast<milliseconds>(timeout));
}

}  // namespace

bool RawClient::send(std::string_view bytes, harness::Duration timeout) {
    auto until = deadline(timeout);
    while (!bytes.empty()) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, wait_ms(until)) <= 0) return false;
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string RawClient::read_by(std::size_t want, harness::Clock::time_point until) {
    std::string got;
    char buf[65536];
    while (got.size() < want) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, wait_ms(until)) <= 0) break;
        ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, want - got.size()), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

std::string RawClient::read(std::size_t want, harness::Duration timeout) {
    return read_by(want, deadline(timeout));
}

std::string RawClient::read_line(harness::Duration timeout) {
    auto until = deadline(timeout);
    std::string got;
    while (got.size() < 2 || got.compare(got.size() - 2, 2, "\r\n") != 0) {
        std::string byte = read_by(1, until);  // a byte at a time: never past the line
        if (byte.empty()) break;
        got += byte;
    }
    return got;
}

std::string RawClient::read_to_end(harness::Duration timeout, bool* closed) {
    auto until = deadline(timeout);
    std::string got;
    char buf[65536];
    *closed = false;
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, wait_ms(until)) <= 0) return got;
        ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            *closed = true;
            return got;
        }
        got.append(buf, static_cast<std::size_t>(n));
    }
}

bool RawClient::closed_within(harness::Duration timeout) {
    bool closed = false;
    read_to_end(timeout, &closed);
    return closed;
}

}  // namespace redis_test
