// One full-duplex patterned exchange over a connection.
#include "harness/exchange.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <span>
#include <vector>

#include "harness/internal.hpp"

namespace harness {

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
                return finish("recv: " + internal::errno_name(e) +
                              (options.expect_eof && echoed() >= options.bytes
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
                return finish("send: " + internal::errno_name(errno) + " after " + std::to_string(r.sent) +
                              " bytes");
            }
        }
    }
    r.completed = true;
    return finish("");
}

}  // namespace harness
