// Many scripted clients driven from one thread with epoll.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <queue>

#include "internal.hpp"

namespace harness {
namespace {

// Reads and writes per readiness event, so one fast client cannot starve the others.
constexpr int kOpsPerEvent = 4;

const char* step_name(Step::Kind k) {
    switch (k) {
        case Step::Kind::send:
            return "send";
        case Step::Kind::push:
            return "push";
        case Step::Kind::expect:
            return "expect";
        case Step::Kind::round_trip:
            return "round_trip";
        case Step::Kind::pause:
            return "pause";
        case Step::Kind::shutdown_write:
            return "shutdown_write";
        case Step::Kind::expect_eof:
            return "expect_eof";
        case Step::Kind::close:
            return "close";
        case Step::Kind::reset:
            return "reset";
    }
    return "?";
}

enum class State { pending, connecting, running, done, failed };

struct Client {
    State state = State::pending;
    int fd = -1;
    std::uint32_t mask = 0;
    std::size_t step = 0;
    bool step_started = false;
    std::uint64_t sent = 0;
    std::uint64_t send_target = 0;
    std::uint64_t recv_goal = 0;
    int trips = 0;
    bool shut = false;
    bool eof = false;
    bool retry_connect = false;  // a unix connect refused with EAGAIN, to try again
    Clock::time_point connect_start, trip_start, pause_until, last_write;
    PatternChecker checker{Pattern(1)};
};

struct Timer {
    Clock::time_point at;
    std::size_t client;
    bool operator>(const Timer& o) const { return at > o.at; }
};

class Driver {
public:
    Driver(const common::Address& address, const std::vector<Script>& scripts, const SwarmOptions& options,
           const std::function<bool()>& tick)
        : address_(address),
          scripts_(scripts),
          options_(options),
          tick_(tick),
          clients_(scripts.size()),
          scratch_(std::max<std::size_t>(options.chunk, 4096)) {
        result_.clients.resize(scripts.size());
        for (std::size_t i = 0; i < scripts.size(); ++i) {
            std::uint64_t seed = scripts[i].seed ? scripts[i].seed : i + 1;
            clients_[i].checker = PatternChecker(Pattern(seed));
        }
    }

    ~Driver() {
        for (auto& c : clients_)
            close_fd(c);
        if (epoll_ >= 0) ::close(epoll_);
    }

    SwarmResult run() {
        auto start = Clock::now();
        epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) throw Failure("epoll_create1: " + internal::errno_name(errno));
        std::vector<epoll_event> events(1024);
        while (finished_ < clients_.size()) {
            internal::check_watchdog();
            if (options_.deadline.expired()) break;
            if (options_.stop_on_failure && result_.failed) break;
            start_clients(start);
            int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), wait_ms(start));
            if (n < 0 && errno != EINTR) throw Failure("epoll_wait: " + internal::errno_name(errno));
            for (int i = 0; i < n; ++i) {
                Client& c = clients_[events[i].data.u64];
                if (c.state == State::connecting) finish_connect(events[i].data.u64);
                if (c.state == State::running) drive(events[i].data.u64);
            }
            fire_timers();
            if (tick_ && !tick_()) {
                stopped_ = true;
                break;
            }
        }
        internal::check_watchdog();
        for (std::size_t i = 0; i < clients_.size(); ++i) {
            Client& c = clients_[i];
            if (c.state == State::pending) {
                ++result_.not_started;
                result_.clients[i].error = "not started before the deadline";
            } else if (c.state == State::connecting || c.state == State::running) {
                std::string why = stopped_ ? "stopped by the tick hook during " + where(i)
                                  : c.state == State::connecting
                                      ? std::string("connect: no answer before the deadline")
                                      : "deadline passed during " + where(i);
                fail(i, why);
            }
        }
        result_.elapsed = Clock::now() - start;
        return std::move(result_);
    }

private:
    int wait_ms(Clock::time_point start) {
        auto now = Clock::now();
        auto until = options_.deadline.when();
        if (!timers_.empty()) until = std::min(until, timers_.top().at);
        if (next_ < clients_.size() && can_open() && options_.connects_per_second > 0)
            until =
                std::min(until, start + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(
                                            static_cast<double>(next_) / options_.connects_per_second)));
        if (tick_) until = std::min(until, now + milliseconds(10));
        if (until <= now) return 0;
        return static_cast<int>(std::chrono::duration_cast<milliseconds>(until - now).count()) + 1;
    }

    bool can_open() const { return options_.max_open == 0 || open_ < options_.max_open; }

    void start_clients(Clock::time_point start) {
        while (next_ < clients_.size() && can_open()) {
            if (options_.connects_per_second > 0) {
                double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
                if (static_cast<double>(next_) > elapsed * options_.connects_per_second) break;
            }
            start_connect(next_++);
        }
    }

    void start_connect(std::size_t i) {
        Client& c = clients_[i];
        const ConnectOptions& o = scripts_[i].connect;
        c.connect_start = Clock::now();
        c.fd = ::socket(address_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return fail(i, "socket: " + internal::errno_name(errno));
        internal::register_socket(c.fd);
        ++open_;
        result_.peak_open = std::max(result_.peak_open, open_);
        if (o.rcvbuf > 0) ::setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof o.rcvbuf);
        if (o.sndbuf > 0) ::setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &o.sndbuf, sizeof o.sndbuf);
        if (o.nodelay) {
            int one = 1;
            ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        c.state = State::connecting;
        attempt_connect(i);
    }

    void attempt_connect(std::size_t i) {
        Client& c = clients_[i];
        c.retry_connect = false;
        int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&address_.storage), address_.length);
        if (rc != 0 && errno == EAGAIN && address_.is_unix()) {
            // A unix socket with a full backlog says EAGAIN and starts nothing (unix(7)).
            // Kept out of the epoll set meanwhile: an unconnected unix socket reports HUP.
            c.retry_connect = true;
            timers_.push({Clock::now() + milliseconds(2), i});
            return;
        }
        if (rc != 0 && errno != EINPROGRESS && errno != EINTR)
            return fail(i, "connect: " + internal::errno_name(errno));
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = i;
        if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev) != 0)
            return fail(i, "epoll_ctl: " + internal::errno_name(errno));
        c.mask = EPOLLOUT;
        if (rc == 0) finish_connect(i);
    }

    void finish_connect(std::size_t i) {
        Client& c = clients_[i];
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) {
            // Still in progress: EPOLLOUT fired for something else (cannot happen for TCP).
            sockaddr_storage peer{};
            socklen_t plen = sizeof peer;
            if (::getpeername(c.fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 && errno == ENOTCONN)
                return;
        }
        if (err != 0) return fail(i, "connect: " + internal::errno_name(err));
        auto t = Clock::now() - c.connect_start;
        result_.clients[i].connect_time = t;
        result_.connects.add(t);
        c.state = State::running;
        c.last_write = Clock::now();
        drive(i);
    }

    bool reading(const Client& c, const Step* s) const {
        if (c.eof) return false;
        if (!s) return true;  // draining the last echo before the final close
        switch (s->kind) {
            case Step::Kind::expect:
            case Step::Kind::round_trip:
            case Step::Kind::expect_eof:
                return true;
            default:
                return scripts_[static_cast<std::size_t>(&c - clients_.data())].drain;
        }
    }

    // An EOF from the server is only right after our own shutdown or close, and only
    // once every byte sent has come back.
    bool eof_expected(std::size_t i) const {
        const Client& c = clients_[i];
        if (c.shut) return true;
        const auto& steps = scripts_[i].steps;
        for (std::size_t k = c.step; k < steps.size(); ++k) {
            switch (steps[k].kind) {
                case Step::Kind::expect_eof:
                case Step::Kind::shutdown_write:
                    return true;
                case Step::Kind::send:
                case Step::Kind::push:
                case Step::Kind::expect:
                case Step::Kind::round_trip:
                    return false;
                default:
                    break;
            }
        }
        return false;
    }

    std::string where(std::size_t i) const {
        const Client& c = clients_[i];
        const auto& steps = scripts_[i].steps;
        std::string s = c.step < steps.size() ? std::string("step ") + std::to_string(c.step) + " (" +
                                                    step_name(steps[c.step].kind) + ")"
                                              : std::string("the final close");
        return s + ": sent " + std::to_string(c.sent) + ", echoed " + std::to_string(c.checker.offset());
    }

    // Returns false when the client failed.
    bool read_some(std::size_t i) {
        Client& c = clients_[i];
        for (int k = 0; k < kOpsPerEvent; ++k) {
            ssize_t n = ::recv(c.fd, scratch_.data(), scratch_.size(), 0);
            if (n > 0) {
                auto data = std::span<const std::uint8_t>(scratch_.data(), static_cast<std::size_t>(n));
                if (c.checker.offset() + data.size() > c.sent) {
                    fail(i, "received more bytes than were sent (" +
                                std::to_string(c.checker.offset() + data.size()) + " > " +
                                std::to_string(c.sent) + "): duplicated or foreign bytes");
                    return false;
                }
                if (!c.checker.consume(data)) {
                    fail(i, c.checker.describe_bad());
                    return false;
                }
                result_.clients[i].received = c.checker.offset();
                continue;
            }
            if (n == 0) {
                c.eof = true;
                if (!eof_expected(i)) {
                    fail(i, "the server closed the connection (EOF) during " + where(i));
                    return false;
                }
                if (c.checker.offset() < c.sent) {
                    fail(i, "the server closed the connection (EOF) before echoing everything: " + where(i));
                    return false;
                }
                return true;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return true;
            fail(i, "recv: " + internal::errno_name(errno) + " during " + where(i));
            return false;
        }
        return true;
    }

    bool write_some(std::size_t i) {
        Client& c = clients_[i];
        Pattern pattern(seed_of(i));
        for (int k = 0; k < kOpsPerEvent && c.sent < c.send_target; ++k) {
            std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(scratch_.size(), c.send_target - c.sent));
            pattern.fill(c.sent, std::span(scratch_.data(), n));
            ssize_t w = ::send(c.fd, scratch_.data(), n, MSG_NOSIGNAL);
            if (w > 0) {
                c.sent += static_cast<std::uint64_t>(w);
                c.last_write = Clock::now();
                result_.clients[i].sent = c.sent;
                continue;
            }
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno == EAGAIN) return true;
            fail(i, "send: " + internal::errno_name(errno) + " during " + where(i));
            return false;
        }
        return true;
    }

    std::uint64_t seed_of(std::size_t i) const { return scripts_[i].seed ? scripts_[i].seed : i + 1; }

    void drive(std::size_t i) {
        Client& c = clients_[i];
        const auto& steps = scripts_[i].steps;
        for (;;) {
            if (c.state != State::running) return;
            const Step* s = c.step < steps.size() ? &steps[c.step] : nullptr;
            if (reading(c, s) && !read_some(i)) return;
            if (!s) return finish(i, false);
            auto now = Clock::now();
            if (!c.step_started) {
                c.step_started = true;
                switch (s->kind) {
                    case Step::Kind::send:
                    case Step::Kind::push:
                        c.send_target = c.sent + s->bytes;
                        break;
                    case Step::Kind::expect:
                        c.recv_goal += s->bytes;
                        break;
                    case Step::Kind::round_trip:
                        c.trips = 0;
                        c.send_target = c.sent + s->bytes;
                        c.trip_start = now;
                        break;
                    case Step::Kind::pause:
                        c.pause_until = now + s->pause;
                        break;
                    default:
                        break;
                }
                if (s->kind == Step::Kind::push) c.last_write = now;
            }
            bool done = false;
            switch (s->kind) {
                case Step::Kind::send:
                    if (!write_some(i)) return;
                    done = c.sent == c.send_target;
                    break;
                case Step::Kind::push:
                    if (!write_some(i)) return;
                    done = c.sent == c.send_target || now - c.last_write >= s->pause;
                    if (!done) timers_.push({c.last_write + s->pause, i});
                    break;
                case Step::Kind::expect:
                    done = c.checker.offset() >= c.recv_goal;
                    break;
                case Step::Kind::round_trip:
                    if (!write_some(i)) return;
                    if (c.sent == c.send_target && c.checker.offset() >= c.send_target) {
                        result_.round_trips.add(Clock::now() - c.trip_start);
                        c.recv_goal = c.send_target;
                        if (++c.trips == s->count) {
                            done = true;
                        } else {
                            c.send_target += s->bytes;
                            c.trip_start = Clock::now();
                            continue;
                        }
                    }
                    break;
                case Step::Kind::pause:
                    done = now >= c.pause_until;
                    if (!done) timers_.push({c.pause_until, i});
                    break;
                case Step::Kind::shutdown_write:
                    if (::shutdown(c.fd, SHUT_WR) != 0)
                        return fail(i, "shutdown(SHUT_WR): " + internal::errno_name(errno));
                    c.shut = true;
                    done = true;
                    break;
                case Step::Kind::expect_eof:
                    done = c.eof;
                    break;
                case Step::Kind::close:
                    return finish(i, false);
                case Step::Kind::reset:
                    return finish(i, true);
            }
            if (!done) break;
            ++c.step;
            c.step_started = false;
        }
        update_mask(i);
    }

    void update_mask(std::size_t i) {
        Client& c = clients_[i];
        const auto& steps = scripts_[i].steps;
        const Step* s = c.step < steps.size() ? &steps[c.step] : nullptr;
        std::uint32_t mask = reading(c, s) ? std::uint32_t{EPOLLIN} : 0u;
        if (s &&
            (s->kind == Step::Kind::send || s->kind == Step::Kind::push ||
             s->kind == Step::Kind::round_trip) &&
            c.sent < c.send_target)
            mask |= std::uint32_t{EPOLLOUT};
        if (mask == c.mask) return;
        epoll_event ev{};
        ev.events = mask;
        ev.data.u64 = i;
        ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
        c.mask = mask;
    }

    void fire_timers() {
        auto now = Clock::now();
        while (!timers_.empty() && timers_.top().at <= now) {
            std::size_t i = timers_.top().client;
            timers_.pop();
            if (clients_[i].state == State::running)
                drive(i);
            else if (clients_[i].state == State::connecting && clients_[i].retry_connect)
                attempt_connect(i);
        }
    }

    void close_fd(Client& c) {
        if (c.fd < 0) return;
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
        internal::close_socket(c.fd);
        c.fd = -1;
        --open_;
    }

    void finish(std::size_t i, bool reset) {
        Client& c = clients_[i];
        if (reset) {
            linger abort{1, 0};
            ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
        }
        close_fd(c);
        c.state = State::done;
        result_.clients[i].done = true;
        ++result_.completed;
        ++finished_;
    }

    void fail(std::size_t i, std::string why) {
        Client& c = clients_[i];
        close_fd(c);
        if (c.state == State::done || c.state == State::failed) return;
        c.state = State::failed;
        result_.clients[i].error = std::move(why);
        ++result_.failed;
        ++finished_;
    }

    const common::Address& address_;
    const std::vector<Script>& scripts_;
    const SwarmOptions& options_;
    const std::function<bool()>& tick_;
    std::vector<Client> clients_;
    std::vector<std::uint8_t> scratch_;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
    SwarmResult result_;
    int epoll_ = -1;
    std::size_t next_ = 0, open_ = 0, finished_ = 0;
    bool stopped_ = false;
};

}  // namespace

std::string SwarmResult::describe() const {
    std::string s = std::to_string(clients.size()) + " clients: " + std::to_string(completed) +
                    " completed, " + std::to_string(failed) + " failed";
    if (not_started) s += ", " + std::to_string(not_started) + " never started";
    for (std::size_t i = 0; i < clients.size(); ++i) {
        if (!clients[i].error.empty()) {
            s += "; first failure: client " + std::to_string(i) + ": " + clients[i].error;
            break;
        }
    }
    if (round_trips.count()) s += "; round trips " + round_trips.summary();
    return s;
}

Swarm::Swarm(common::Address address) : address_(std::move(address)) {}

std::size_t Swarm::add(Script script) {
    scripts_.push_back(std::move(script));
    return scripts_.size() - 1;
}

SwarmResult Swarm::run(const SwarmOptions& options) {
    Driver driver(address_, scripts_, options, tick_);
    return driver.run();
}

}  // namespace harness
