#include "client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace httptest {

milliseconds bound(milliseconds ms) {
    return harness::scaled(ms);
}

std::unique_ptr<harness::Server> start_http(const std::string& root, std::vector<std::string> args,
                                            std::vector<std::string> listen) {
    harness::ServerOptions options;
    options.listen = std::move(listen);
    options.path = STAGE04_HTTP_PATH;
    options.args = {"--root", root};
    options.args.insert(options.args.end(), args.begin(), args.end());
    return harness::Server::start(options);
}

Client::Client(const common::Address& address, int rcvbuf) {
    fd_ = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    if (!address.is_unix()) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0)
        throw std::runtime_error("connect to " + address.url() + " failed: " + std::strerror(errno));
}

Client::~Client() {
    if (fd_ >= 0) ::close(fd_);
}

void Client::send(std::string_view bytes) {
    auto until = std::chrono::steady_clock::now() + bound(milliseconds(10000));
    while (!bytes.empty()) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 100);
        if (std::chrono::steady_clock::now() > until)
            throw std::runtime_error("send: the server stopped reading");
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::size_t Client::send_now(std::string_view bytes) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n < 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    return static_cast<std::size_t>(n);
}

void Client::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

std::string Client::read_some(std::size_t max, milliseconds within) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(bound(within).count())) <= 0) return "";
    std::string out(max, '\0');
    ssize_t n = ::recv(fd_, out.data(), max, MSG_DONTWAIT);
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
}

std::string Client::read_to_end(bool* eof, milliseconds within) {
    auto until = std::chrono::steady_clock::now() + bound(within);
    std::string out;
    char buf[65536];
    *eof = false;
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
            *eof = true;
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            break;  // a reset is not a clean end
        }
    }
    return out;
}

std::string Client::read_replies(std::size_t replies, const std::vector<bool>& heads, milliseconds within) {
    auto until = std::chrono::steady_clock::now() + bound(within);
    std::string out;
    char buf[65536];
    auto to_head = [&](std::size_t i) { return i < heads.size() && heads[i]; };
    while (std::chrono::steady_clock::now() < until) {
        std::vector<Reply> parsed;
        if (split_replies(out, to_head, &parsed).empty() && parsed.size() >= replies) break;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
        if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

Reply fetch(const common::Address& address, std::string_view request) {
    Client c(address);
    c.send(request);
    bool head = request.substr(0, 5) == "HEAD ";
    std::string bytes = c.read_replies(1, {head});
    std::vector<Reply> replies;
    auto error = split_replies(
        bytes, [&](std::size_t) { return head; }, &replies);
    if (!error.empty() || replies.size() != 1)
        throw std::runtime_error("no single reply: " + error + "\n" + bytes);
    return replies[0];
}

std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (std::size_t start = 0; start <= dirs.size();) {
        auto end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return "";
}

void report_skipped(const std::string& program, const std::string& package) {
    std::printf("SKIPPED: %s is not installed. Install it with: apt-get install -y %s\n", program.c_str(),
                package.c_str());
    std::fflush(stdout);
}

}  // namespace httptest
