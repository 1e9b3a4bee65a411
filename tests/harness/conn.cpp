// One client connection and the probes built on it.
#include "harness/conn.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "harness/internal.hpp"

namespace harness {
namespace {

std::string op_failure(const char* what, int err) {
    return std::string(what) + ": " + internal::errno_name(err);
}

bool is_reset(int err) {
    return err == ECONNRESET || err == EPIPE;
}

}  // namespace

std::string_view end_kind_name(EndKind k) {
    switch (k) {
        case EndKind::eof:
            return "clean EOF";
        case EndKind::reset:
            return "connection reset";
        case EndKind::timeout:
            return "timeout";
        case EndKind::error:
            return "error";
    }
    return "?";
}

int open_client_socket(const common::Address& address, const ConnectOptions& options) {
    int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (options.rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.rcvbuf, sizeof options.rcvbuf);
    if (options.sndbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.sndbuf, sizeof options.sndbuf);
    if (options.nodelay && !address.is_unix()) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

Conn Conn::connect(const common::Address& address, const ConnectOptions& options, Deadline deadline) {
    internal::check_watchdog();
    int fd = open_client_socket(address, options);
    if (fd < 0) throw Failure(op_failure("socket", errno));
    internal::register_socket(fd);
    Conn conn(fd);
    int rc;
    auto pause = milliseconds(1);
    for (;;) {
        rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
        if (rc == 0 || errno == EINPROGRESS) break;
        if (errno == EINTR) continue;
        // A unix socket whose backlog is full refuses with EAGAIN instead of starting the
        // connection (unix(7)): nothing will complete it, so try again until the deadline.
        if (errno == EAGAIN && address.is_unix() && !deadline.expired()) {
            sleep_for(pause);
            pause = std::min(pause * 2, milliseconds(20));
            continue;
        }
        throw Failure("connect to " + address.url() + ": " + internal::errno_name(errno));
    }
    if (rc != 0) {
        if (!internal::wait_fd(fd, POLLOUT, deadline))
            throw Failure("connect to " + address.url() + ": no answer before the deadline");
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) throw Failure("connect to " + address.url() + ": " + internal::errno_name(err));
    }
    return conn;
}

Conn Conn::accept(int listener, Deadline deadline) {
    internal::check_watchdog();
    for (;;) {
        int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            internal::register_socket(fd);
            return Conn(fd);
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) throw Failure(op_failure("accept", errno));
        if (!internal::wait_fd(listener, POLLIN, deadline))
            throw Failure("accept: no connection arrived before the deadline");
    }
}

Conn::Conn(Conn&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Conn& Conn::operator=(Conn&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

Conn::~Conn() {
    close();
}

void Conn::close() {
    internal::close_socket(std::exchange(fd_, -1));
}

void Conn::reset() {
    if (fd_ < 0) return;
    linger abort{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    close();
}

void Conn::shutdown_write() {
    if (::shutdown(fd_, SHUT_WR) != 0) throw Failure(op_failure("shutdown(SHUT_WR)", errno));
}

void Conn::set_nodelay(bool on) {
    int v = on ? 1 : 0;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

std::size_t Conn::send_now(std::span<const std::uint8_t> data) {
    internal::check_watchdog();
    for (;;) {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return 0;
        throw Failure(op_failure("send", errno));
    }
}

void Conn::send_all(std::span<const std::uint8_t> data, Deadline deadline) {
    std::size_t done = 0;
    while (done < data.size()) {
        std::size_t n;
        try {
            n = send_now(data.subspan(done));
        } catch (const Failure& f) {
            throw Failure(std::string(f.what()) + " after " + std::to_string(done) + " of " +
                          std::to_string(data.size()) + " bytes");
        }
        done += n;
        if (done < data.size() && n == 0 && !internal::wait_fd(fd_, POLLOUT, deadline))
            throw Failure("send: the server stopped reading: " + std::to_string(done) + " of " +
                          std::to_string(data.size()) + " bytes sent before the deadline");
    }
}

void Conn::send_all(std::string_view data, Deadline deadline) {
    send_all(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), deadline);
}

std::vector<std::uint8_t> Conn::recv_some(std::size_t max, Deadline deadline) {
    std::vector<std::uint8_t> buf(max);
    for (;;) {
        internal::check_watchdog();
        ssize_t n = ::recv(fd_, buf.data(), max, 0);
        if (n >= 0) {
            buf.resize(static_cast<std::size_t>(n));
            return buf;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) throw Failure(op_failure("recv", errno));
        if (!internal::wait_fd(fd_, POLLIN, deadline))
            throw Failure("recv: nothing arrived before the deadline");
    }
}

std::vector<std::uint8_t> Conn::recv_exact(std::size_t n, Deadline deadline) {
    std::vector<std::uint8_t> buf(n);
    std::size_t done = 0;
    while (done < n) {
        internal::check_watchdog();
        ssize_t got = ::recv(fd_, buf.data() + done, n - done, 0);
        if (got > 0) {
            done += static_cast<std::size_t>(got);
            continue;
        }
        std::string progress = " after " + std::to_string(done) + " of " + std::to_string(n) + " bytes";
        if (got == 0) throw Failure("recv: the server closed the connection (EOF)" + progress);
        if (errno == EINTR) continue;
        if (errno != EAGAIN) throw Failure(op_failure("recv", errno) + progress);
        if (!internal::wait_fd(fd_, POLLIN, deadline))
            throw Failure("recv: no echo before the deadline" + progress);
    }
    return buf;
}

std::string Conn::recv_exact_string(std::size_t n, Deadline deadline) {
    auto bytes = recv_exact(n, deadline);
    return std::string(bytes.begin(), bytes.end());
}

ReadResult Conn::read_until_eof(Deadline deadline, std::size_t max_bytes) {
    ReadResult r;
    char buf[65536];
    for (;;) {
        internal::check_watchdog();
        ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
        if (got > 0) {
            r.data.append(buf, static_cast<std::size_t>(got));
            if (r.data.size() > max_bytes) {
                r.end = EndKind::error;
                return r;
            }
            continue;
        }
        if (got == 0) {
            r.end = EndKind::eof;
            return r;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
            r.error = errno;
            r.end = is_reset(errno) ? EndKind::reset : EndKind::error;
            return r;
        }
        if (!internal::wait_fd(fd_, POLLIN, deadline)) {
            r.end = EndKind::timeout;
            return r;
        }
    }
}

bool Conn::wait_readable(Deadline deadline) {
    return internal::wait_fd(fd_, POLLIN, deadline) != 0;
}

// ------------------------------------------------------------------ probes

Duration round_trip(Conn& conn, const Pattern& pattern, std::uint64_t offset, std::size_t bytes,
                    Deadline deadline) {
    auto start = Clock::now();
    conn.send_all(pattern.bytes(offset, bytes), deadline);
    auto echo = conn.recv_exact(bytes, deadline);
    if (auto bad = pattern.first_mismatch(offset, echo))
        throw Failure("wrong echo at " + describe_wrong_byte(*bad, pattern.at(*bad), echo[*bad - offset]));
    return Clock::now() - start;
}

std::optional<Duration> timed_round_trip(Conn& conn, const Pattern& pattern, std::uint64_t offset,
                                         std::size_t bytes, Deadline give_up) {
    try {
        return round_trip(conn, pattern, offset, bytes, give_up);
    } catch (const Failure&) {
        if (give_up.expired()) return std::nullopt;
        throw;
    }
}

void check_echo(const common::Address& address, std::size_t bytes, Deadline deadline) {
    try {
        Conn conn = Conn::connect(address, {}, deadline);
        round_trip(conn, Pattern(0xec40), 0, bytes, deadline);
        conn.shutdown_write();
        ReadResult rest = conn.read_until_eof(deadline);
        if (rest.end != EndKind::eof || !rest.data.empty())
            throw Failure("after the echo and our shutdown: " + std::to_string(rest.data.size()) +
                          " extra bytes, then " + std::string(end_kind_name(rest.end)));
    } catch (const Failure& f) {
        throw Failure(std::string("a fresh client's echo failed: ") + f.what());
    }
}

std::string first_difference(const std::string& got, const std::string& want) {
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i])
        ++i;
    if (i == got.size() && i == want.size()) return "identical";
    auto byte = [](const std::string& s, std::size_t k) {
        return k < s.size() ? std::to_string(static_cast<unsigned char>(s[k])) : std::string("none");
    };
    return "first difference at byte " + std::to_string(i) + ": expected " + byte(want, i) + ", got " +
           byte(got, i) + " (" + std::to_string(got.size()) + " bytes received, " +
           std::to_string(want.size()) + " expected)";
}

}  // namespace harness
