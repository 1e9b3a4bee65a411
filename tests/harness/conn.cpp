// One client connection, and one full-duplex patterned exchange over it.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "internal.hpp"

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

Conn Conn::connect(const common::Address& address, const ConnectOptions& options, Deadline deadline) {
    internal::check_watchdog();
    int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Failure(op_failure("socket", errno));
    internal::register_socket(fd);
    Conn conn(fd);
    // Buffer sizes must be set before connect: the window scale is agreed in the
    // handshake (tcp(7)).
    if (options.rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.rcvbuf, sizeof options.rcvbuf);
    if (options.sndbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.sndbuf, sizeof options.sndbuf);
    if (options.nodelay) conn.set_nodelay(true);
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
    if (auto bad = pattern.first_mismatch(offset, echo)) {
        char text[96];
        std::snprintf(text, sizeof text, "wrong echo at byte %llu of the stream: expected 0x%02x, got 0x%02x",
                      static_cast<unsigned long long>(*bad), pattern.at(*bad), echo[*bad - offset]);
        throw Failure(text);
    }
    return Clock::now() - start;
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

// ------------------------------------------------------------------ exchange

std::string ExchangeResult::describe() const {
    std::string s =
        "sent " + std::to_string(sent) + ", verified " + std::to_string(received) + " echoed bytes";
    if (first_bad) s += ", first wrong byte at offset " + std::to_string(*first_bad);
    if (!error.empty()) s += ": " + error;
    s += " (" + std::to_string(static_cast<long long>(to_ms(elapsed))) + " ms)";
    return s;
}

ExchangeResult exchange(Conn& conn, const ExchangeOptions& options) {
    ExchangeResult r;
    auto start = Clock::now();
    const std::uint64_t base = options.offset;
    Pattern pattern(options.seed);
    PatternChecker checker(pattern, base);
    std::vector<std::uint8_t> out(options.chunk), in(std::max<std::size_t>(options.chunk, 65536));
    std::size_t out_len = 0, out_pos = 0;  // the chunk being sent
    bool shut = false, eof = false;
    r.sent = std::min(options.already_sent, options.bytes);
    auto echoed = [&] { return checker.offset() - base; };
    auto finish = [&](std::string error) {
        r.error = std::move(error);
        r.received = echoed();
        r.elapsed = Clock::now() - start;
        return r;
    };

    while (echoed() < options.bytes || (options.expect_eof && !eof)) {
        bool want_write = r.sent < options.bytes;
        if (want_write && options.max_in_flight && r.sent - echoed() >= options.max_in_flight)
            want_write = false;
        if (!want_write && options.shutdown_after_send && !shut && r.sent == options.bytes) {
            conn.shutdown_write();
            shut = true;
        }
        short events = POLLIN | (want_write ? POLLOUT : 0);
        short revents = internal::wait_fd(conn.fd(), events, options.deadline);
        if (revents == 0) {
            if (echoed() == options.bytes)
                return finish(
                    "every byte came back, but the server did not close (no EOF) before the deadline");
            return finish("deadline passed with " + std::to_string(options.bytes - echoed()) +
                          " bytes still to be echoed" + (r.sent < options.bytes ? " (and some unsent)" : ""));
        }
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = ::recv(conn.fd(), in.data(), in.size(), 0);
            if (got > 0) {
                auto data = std::span<const std::uint8_t>(in.data(), static_cast<std::size_t>(got));
                if (echoed() + data.size() > r.sent) {
                    // More came back than went out: check what could be legitimate first, so
                    // a wrong byte is reported where it is.
                    std::uint64_t fits = r.sent - echoed();
                    checker.consume(data.first(static_cast<std::size_t>(fits)));
                    r.first_bad = checker.first_bad() ? checker.first_bad() : std::optional(base + r.sent);
                    return finish("received more bytes than were sent (" +
                                  std::to_string(echoed() + data.size() - fits) + " > " +
                                  std::to_string(r.sent) + "): duplicated or invented bytes");
                }
                if (!checker.consume(data)) {
                    r.first_bad = checker.first_bad();
                    return finish(checker.describe_bad());
                }
            } else if (got == 0) {
                eof = true;
                if (echoed() < options.bytes)
                    return finish("the server closed the connection (EOF) after echoing " +
                                  std::to_string(echoed()) + " of " + std::to_string(options.bytes) +
                                  " bytes");
            } else if (errno != EINTR && errno != EAGAIN) {
                int e = errno;
                return finish(op_failure("recv", e) + (options.expect_eof && echoed() >= options.bytes
                                                           ? ": a reset instead of a clean EOF"
                                                           : ""));
            }
        }
        if (want_write && (revents & POLLOUT)) {
            if (out_pos == out_len) {
                out_len =
                    static_cast<std::size_t>(std::min<std::uint64_t>(options.chunk, options.bytes - r.sent));
                pattern.fill(base + r.sent, std::span(out.data(), out_len));
                out_pos = 0;
            }
            ssize_t n = ::send(conn.fd(), out.data() + out_pos, out_len - out_pos, MSG_NOSIGNAL);
            if (n > 0) {
                out_pos += static_cast<std::size_t>(n);
                r.sent += static_cast<std::uint64_t>(n);
                if (out_pos == out_len) out_pos = out_len = 0;
            } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
                return finish(op_failure("send", errno) + " after " + std::to_string(r.sent) + " bytes");
            }
        }
    }
    r.completed = true;
    return finish("");
}

}  // namespace harness
