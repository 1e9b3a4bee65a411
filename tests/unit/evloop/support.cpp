#include "support.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/address.hpp"
#include "doctest/doctest.h"

namespace t {

std::vector<evloop::Backend> backends() {
    return evloop::available_backends();
}

Running::Running(evloop::Events events, evloop::Options options, std::vector<std::string> urls) {
    auto user_serving = events.serving;
    events.serving = [this, user_serving](const evloop::ServerInfo& info) {
        evloop::Action action = user_serving ? user_serving(info) : evloop::Action::none;
        std::lock_guard lock(mutex_);
        addrs = info.addrs;
        serving_ = true;
        cv_.notify_all();
        return action;
    };
    server = std::make_unique<evloop::Server>(std::move(events), options);
    thread_ = std::thread([this, urls] {
        auto err = server->serve(urls);
        std::lock_guard lock(mutex_);
        error = err;
        returned_ = true;
        cv_.notify_all();
    });
    std::unique_lock lock(mutex_);
    bool ok = cv_.wait_for(lock, scaled(5000ms), [this] { return serving_ || returned_; });
    std::string why = !ok ? "the server did not start" : error ? error.message : "";
    lock.unlock();
    if (!why.empty()) {
        server->stop();
        thread_.join();
        FAIL(why);
    }
}

Running::~Running() {
    server->stop();
    thread_.join();
}

bool Running::wait_returned(ms timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return returned_; });
}

Client::Client(const std::string& url) {
    std::string why;
    auto a = common::parse_address(url, &why);
    REQUIRE_MESSAGE(a, why);
    fd_ = ::socket(a->family(), SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&a->storage), a->length);
    REQUIRE_MESSAGE(rc == 0, "connect " << url << ": " << std::strerror(errno));
}

Client::~Client() {
    close();
}

void Client::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Client::send(std::string_view bytes) {
    while (!bytes.empty()) {
        long n = ::send(fd_, bytes.data(), bytes.size(), kNoSigPipe);
        if (n < 0 && errno == EINTR) continue;
        REQUIRE_MESSAGE(n > 0, "send: " << std::strerror(errno));
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

namespace {
// Waits until fd is readable; false on timeout.
bool readable(int fd, ms timeout) {
    pollfd p{fd, POLLIN, 0};
    int n;
    do {
        n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (n < 0 && errno == EINTR);
    return n > 0;
}
}  // namespace

std::string Client::recv_exact(std::size_t n, ms timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (out.size() < n) {
        auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
        REQUIRE_MESSAGE((left.count() > 0 && readable(fd_, left)),
                        "timed out with " << out.size() << " of " << n << " bytes");
        long got = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
        REQUIRE_MESSAGE(got > 0,
                        "recv returned " << got << " after " << out.size() << " of " << n << " bytes");
        out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
}

std::string Client::recv_until_eof(ms timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    for (;;) {
        auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
        REQUIRE_MESSAGE((left.count() > 0 && readable(fd_, left)), "no EOF in time, got " << out.size());
        long got = ::recv(fd_, buf, sizeof buf, 0);
        REQUIRE_MESSAGE(got >= 0, "recv: " << std::strerror(errno));
        if (got == 0) return out;
        out.append(buf, static_cast<std::size_t>(got));
    }
}

bool Client::silent_for(ms quiet) {
    return !readable(fd_, quiet);
}

void Client::shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
}

void Client::reset() {
    if (fd_ < 0) return;
    linger hard{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    close();
}

std::string Client::exchange(std::string_view bytes, std::size_t expect, ms timeout, bool* reset) {
    std::string out;
    if (reset) *reset = false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (out.size() < expect) {
        auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
        REQUIRE_MESSAGE(left.count() > 0, "timed out with " << out.size() << " of " << expect
                                                            << " bytes back, " << bytes.size()
                                                            << " still to send");
        pollfd p{fd_, static_cast<short>(POLLIN | (bytes.empty() ? 0 : POLLOUT)), 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        if (!bytes.empty() && (p.revents & POLLOUT)) {
            long n = ::send(fd_, bytes.data(), std::min<std::size_t>(bytes.size(), 65536),
                            MSG_DONTWAIT | kNoSigPipe);
            if (n > 0) bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            long got = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
            if (got == 0) break;
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got < 0) {
                if (reset) *reset = errno == ECONNRESET;
                break;
            }
            out.append(buf, static_cast<std::size_t>(got));
        }
    }
    return out;
}

Listener::Listener(int backlog) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, backlog) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    url = "tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
}

Listener::~Listener() {
    ::close(fd);
}

int Listener::accept() const {
    int accepted = ::accept(fd, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    return accepted;
}

bool eventually(const std::function<bool()>& pred, ms timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

std::string pattern(std::size_t n) {
    std::string out(n, '\0');
    std::uint32_t x = 2463534242u;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = static_cast<char>(x);
    }
    return out;
}

void Log::add(std::string entry) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(entry));
    cv_.notify_all();
}

std::vector<std::string> Log::entries() {
    std::lock_guard lock(mutex_);
    return entries_;
}

std::size_t Log::count(const std::string& entry) {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count(entries_.begin(), entries_.end(), entry));
}

bool Log::wait_for(const std::function<bool(const std::vector<std::string>&)>& pred, ms timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(entries_); });
}

bool Log::wait_count(const std::string& entry, std::size_t n, ms timeout) {
    return wait_for(
        [&](const auto& e) { return static_cast<std::size_t>(std::count(e.begin(), e.end(), entry)) >= n; },
        timeout);
}

}  // namespace t
