// The client driver: non-blocking connects, level-triggered epoll, and every echoed byte
// checked against the pattern as it arrives.
#include "harness/driver.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <span>

#include "harness/internal.hpp"
#include "harness/pattern.hpp"

namespace harness {
namespace {

std::string progress(const Stream& s) {
    return std::to_string(s.received) + " of " + std::to_string(s.sent) + " bytes came back";
}

}  // namespace

std::string_view fault_name(Fault fault) {
    switch (fault) {
        case Fault::connect:
            return "connect";
        case Fault::mismatch:
            return "mismatch";
        case Fault::extra:
            return "extra";
        case Fault::short_echo:
            return "short";
        case Fault::closed:
            return "closed";
        case Fault::io:
            return "io";
    }
    return "?";
}

Driver::Driver(const common::Address& address, std::size_t slots, Handler& handler,
               const DriverOptions& options)
    : address_(address),
      handler_(handler),
      options_(options),
      slots_(slots),
      read_buf_(std::max<std::size_t>(options.read_buffer, 1)),
      write_buf_(std::max<std::size_t>(options.chunk, 1)) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) throw Failure("epoll_create1: " + internal::errno_name(errno));
}

Driver::~Driver() {
    for (std::size_t i = 0; i < slots_.size(); ++i)
        close(i);
    ::close(epoll_);
}

std::uint64_t Driver::tag(std::size_t slot) const {
    return std::uint64_t{slots_[slot].gen} << 32 | slot;
}

bool Driver::alive(std::size_t slot, std::uint32_t gen) const {
    return slots_[slot].stream.open && slots_[slot].gen == gen;
}

bool Driver::open(std::size_t slot, std::uint64_t seed, const ConnectOptions& options) {
    Slot& s = slots_[slot];
    close(slot);
    s.stream = Stream{.seed = seed};
    s.fd = open_client_socket(address_, options);
    if (s.fd < 0) {
        handler_.failed(slot, Fault::connect, "socket: " + internal::errno_name(errno));
        return true;
    }
    if (options_.watchdog) internal::register_socket(s.fd);
    s.stream.open = true;
    int rc = ::connect(s.fd, reinterpret_cast<const sockaddr*>(&address_.storage), address_.length);
    if (rc != 0 && errno == EAGAIN && address_.is_unix()) {
        close(slot);
        return false;
    }
    // EINTR: the connect goes on in the background and completes like EINPROGRESS (connect(2)).
    if (rc != 0 && errno != EINPROGRESS && errno != EINTR) {
        fail(slot, Fault::connect, "connect: " + internal::errno_name(errno));
        return true;
    }
    if (!control(slot, EPOLL_CTL_ADD, EPOLLOUT, Fault::connect)) return true;
    s.stream.connecting = true;
    ++connecting_;
    if (rc == 0) finish_connect(slot);
    return true;
}

void Driver::finish_connect(std::size_t slot) {
    Slot& s = slots_[slot];
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) {
        // Writable for another reason than the handshake's end (not seen with TCP): wait on.
        sockaddr_storage peer{};
        socklen_t plen = sizeof peer;
        if (::getpeername(s.fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 && errno == ENOTCONN) return;
    }
    s.stream.connecting = false;
    --connecting_;
    if (err != 0) return fail(slot, Fault::connect, "connect: " + internal::errno_name(err));
    if (!update_interest(slot)) return;
    handler_.connected(slot);
}

bool Driver::send_until(std::size_t slot, std::uint64_t limit) {
    Slot& s = slots_[slot];
    if (!s.stream.open) return false;
    s.stream.limit = std::max(limit, s.stream.sent);
    if (s.stream.connecting) return true;  // written once connected
    return write_some(slot) && update_interest(slot);
}

void Driver::set_reading(std::size_t slot, bool on) {
    Slot& s = slots_[slot];
    s.stream.reading = on;
    if (s.stream.open && !s.stream.connecting) update_interest(slot);
}

bool Driver::read_now(std::size_t slot, bool* eof) {
    *eof = false;
    const Stream& st = slots_[slot].stream;
    if (!st.open || st.connecting || st.eof) return st.open;
    return read_some(slot, eof) && update_interest(slot);
}

bool Driver::shutdown_write(std::size_t slot) {
    Slot& s = slots_[slot];
    if (::shutdown(s.fd, SHUT_WR) == 0) return true;
    fail(slot, Fault::io, "shutdown(SHUT_WR): " + internal::errno_name(errno));
    return false;
}

void Driver::close(std::size_t slot, bool reset) {
    Slot& s = slots_[slot];
    if (!s.stream.open) return;
    if (reset) {
        linger abort{1, 0};
        ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    }
    // close(2) also takes the socket out of the epoll set: no other descriptor refers to it.
    if (options_.watchdog)
        internal::close_socket(s.fd);
    else
        ::close(s.fd);
    if (s.stream.connecting) --connecting_;
    s.fd = -1;
    s.mask = 0;
    ++s.gen;
    s.stream.open = s.stream.connecting = false;
}

void Driver::fail(std::size_t slot, Fault fault, const std::string& detail) {
    close(slot);
    handler_.failed(slot, fault, detail);
}

void Driver::poll(int timeout_ms) {
    epoll_event events[256];
    int n = ::epoll_wait(epoll_, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) throw Failure("epoll_wait: " + internal::errno_name(errno));
    for (int i = 0; i < n; ++i) {
        auto slot = static_cast<std::size_t>(events[i].data.u64 & 0xffffffffu);
        auto gen = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
        if (!alive(slot, gen)) continue;  // closed, maybe reopened, since epoll_wait returned
        if (slots_[slot].stream.connecting) {
            if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) finish_connect(slot);
        } else {
            handle(slot, events[i].events);
        }
    }
}

void Driver::handle(std::size_t slot, std::uint32_t events) {
    Slot& s = slots_[slot];
    const std::uint32_t gen = s.gen;
    const std::uint64_t sent = s.stream.sent, received = s.stream.received;
    bool eof = false;
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && s.stream.reading && !s.stream.eof &&
        !read_some(slot, &eof))
        return;
    if ((events & EPOLLOUT) && !write_some(slot)) return;
    if (!update_interest(slot)) return;
    handler_.progressed(slot, s.stream.sent - sent, s.stream.received - received);
    if (eof && alive(slot, gen)) handler_.ended(slot);
}

bool Driver::read_some(std::size_t slot, bool* eof) {
    Slot& s = slots_[slot];
    Stream& st = s.stream;
    const Pattern pattern(st.seed);
    for (int k = 0; options_.reads_per_event == 0 || k < options_.reads_per_event; ++k) {
        ssize_t n = ::recv(s.fd, read_buf_.data(), read_buf_.size(), 0);
        if (n > 0) {
            auto data = std::span<const std::uint8_t>(read_buf_.data(), static_cast<std::size_t>(n));
            if (st.received + data.size() > st.sent) {
                fail(slot, Fault::extra,
                     "received more bytes than were sent (" + std::to_string(st.received + data.size()) +
                         " > " + std::to_string(st.sent) + "): duplicated or foreign bytes");
                return false;
            }
            if (auto bad = pattern.first_mismatch(st.received, data)) {
                fail(slot, Fault::mismatch,
                     describe_wrong_byte(*bad, pattern.at(*bad), data[*bad - st.received]));
                return false;
            }
            st.received += data.size();
            continue;
        }
        if (n == 0) {
            st.eof = *eof = true;
            if (st.received < st.sent) {
                fail(slot, Fault::short_echo, "the server closed the connection (EOF) after " + progress(st));
                return false;
            }
            return true;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;
        fail(slot, errno == ECONNRESET ? Fault::closed : Fault::io,
             "recv: " + internal::errno_name(errno) + " after " + progress(st));
        return false;
    }
    return true;
}

bool Driver::write_some(std::size_t slot) {
    Slot& s = slots_[slot];
    Stream& st = s.stream;
    const Pattern pattern(st.seed);
    for (int k = 0; st.sent < st.limit && (options_.writes_per_event == 0 || k < options_.writes_per_event);
         ++k) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(write_buf_.size(), st.limit - st.sent));
        pattern.fill(st.sent, std::span(write_buf_.data(), n));
        ssize_t w = ::send(s.fd, write_buf_.data(), n, MSG_NOSIGNAL);
        if (w > 0) {
            st.sent += static_cast<std::uint64_t>(w);
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return true;
        fail(slot, errno == EPIPE || errno == ECONNRESET ? Fault::closed : Fault::io,
             "send: " + internal::errno_name(errno) + " after " + std::to_string(st.sent) + " bytes");
        return false;
    }
    return true;
}

bool Driver::update_interest(std::size_t slot) {
    Slot& s = slots_[slot];
    const Stream& st = s.stream;
    std::uint32_t mask = (st.reading && !st.eof ? std::uint32_t{EPOLLIN} : 0u) |
                         (st.sent < st.limit ? std::uint32_t{EPOLLOUT} : 0u);
    return mask == s.mask || control(slot, EPOLL_CTL_MOD, mask, Fault::io);
}

bool Driver::control(std::size_t slot, int op, std::uint32_t mask, Fault fault) {
    Slot& s = slots_[slot];
    epoll_event ev{};
    ev.events = mask;
    ev.data.u64 = tag(slot);
    if (::epoll_ctl(epoll_, op, s.fd, &ev) != 0) {
        fail(slot, fault, "epoll_ctl: " + internal::errno_name(errno));
        return false;
    }
    s.mask = mask;
    return true;
}

}  // namespace harness
