#include "support.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace proxytest {
namespace {

// The bound address of a socket as a tcp:// URL.
std::string url_of(int fd) {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    return "tcp://127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
}

int loopback_socket() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw harness::Failure("socket: " + std::string(std::strerror(errno)));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
        throw harness::Failure("bind: " + std::string(std::strerror(errno)));
    return fd;
}

}  // namespace

std::string proxy_path() {
    return EVLOOP_PROXY_PATH;
}

std::string echo_path() {
    return EVLOOP_ECHO_PATH;
}

Backend::Backend(int backlog) : fd_(loopback_socket()) {
    ::listen(fd_, backlog);
    url_ = url_of(fd_);
}

Backend::~Backend() {
    unfill();
    ::close(fd_);
}

harness::Conn Backend::accept(harness::Deadline deadline) {
    return harness::Conn::accept(fd_, deadline);
}

void Backend::fill() {
    std::string why;
    auto address = common::parse_address(url_, &why);
    // One connection fills a queue of backlog 0; a few more make sure of it.
    for (int i = 0; i < 4; ++i) {
        int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ::connect(f, reinterpret_cast<const sockaddr*>(&address->storage), address->length);
        fillers_.push_back(f);
    }
    harness::sleep_for(50ms);  // the handshakes that can complete have completed
    queued_ = 0;
    for (int f : fillers_) {
        pollfd p{f, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        if (::poll(&p, 1, 0) == 1 && ::getsockopt(f, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
            ++queued_;
    }
}

void Backend::unfill() {
    // Closing the fillers first stops their SYNs competing for the room being made. Only
    // the ones that connected are in the queue, ahead of anything that came later.
    for (int f : fillers_)
        ::close(f);
    fillers_.clear();
    for (; queued_ > 0; --queued_) {
        int queued = ::accept(fd_, nullptr, nullptr);
        if (queued >= 0) ::close(queued);
    }
}

std::string refused_url() {
    int fd = loopback_socket();
    std::string url = url_of(fd);
    ::close(fd);  // bound and never listening: nothing answers on that port now
    return url;
}

std::unique_ptr<harness::Server> start_proxy(const std::string& to, std::vector<std::string> args,
                                             std::vector<std::string> listen) {
    harness::ServerOptions options;
    options.path = proxy_path();
    options.listen = std::move(listen);
    options.args = {"--to", to};
    options.args.insert(options.args.end(), args.begin(), args.end());
    return harness::Server::start(options);
}

int wait_for_fds(harness::Server& server, int baseline) {
    harness::Deadline deadline = harness::within(2s);
    int now = server.fd_count();
    while (now > baseline && !deadline.expired()) {
        harness::sleep_for(10ms);
        now = server.fd_count();
    }
    return now;
}

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size()))
        ++n;
    return n;
}

}  // namespace proxytest
