// Scripted clients on the client driver: each script step by step, timers for pauses and
// stalls, a connect ramp and a cap on open connections.
#include "harness/swarm.hpp"

#include <algorithm>
#include <queue>

#include "harness/driver.hpp"
#include "harness/internal.hpp"

namespace harness {
namespace {

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

// Where a client is in its script; what it has sent and received is the driver's Stream.
struct Client {
    State state = State::pending;
    std::size_t step = 0;
    bool step_started = false;
    std::uint64_t recv_goal = 0;
    int trips = 0;
    bool shut = false;
    bool eof = false;
    bool retry_connect = false;  // a unix connect refused with EAGAIN, to try again
    Clock::time_point connect_start, trip_start, pause_until, last_write;
};

struct Timer {
    Clock::time_point at;
    std::size_t client;
    bool operator>(const Timer& o) const { return at > o.at; }
};

class Run final : Driver::Handler {
public:
    Run(const common::Address& address, const std::vector<Script>& scripts, const SwarmOptions& options,
        const std::function<bool()>& tick)
        : scripts_(scripts),
          options_(options),
          tick_(tick),
          clients_(scripts.size()),
          driver_(address, scripts.size(), *this,
                  {.chunk = options.chunk, .read_buffer = std::max<std::size_t>(options.chunk, 4096)}) {
        result_.clients.resize(scripts.size());
    }

    SwarmResult run() {
        auto start = Clock::now();
        while (finished_ < clients_.size()) {
            internal::check_watchdog();
            if (options_.deadline.expired()) break;
            if (options_.stop_on_failure && result_.failed) break;
            start_clients(start);
            driver_.poll(wait_ms(start));
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
            result_.clients[i].sent = driver_.stream(i).sent;
            result_.clients[i].received = driver_.stream(i).received;
        }
        result_.elapsed = Clock::now() - start;
        return std::move(result_);
    }

private:
    // ---------------------------------------------------------------- Driver::Handler

    void connected(std::size_t i) override {
        Client& c = clients_[i];
        auto t = Clock::now() - c.connect_start;
        result_.clients[i].connect_time = t;
        result_.connects.add(t);
        c.state = State::running;
        c.last_write = Clock::now();
        drive(i);
    }

    void progressed(std::size_t i, std::uint64_t sent, std::uint64_t) override {
        if (sent > 0) clients_[i].last_write = Clock::now();
        drive(i);
    }

    // An EOF from the server is only right after our own shutdown, or where the script
    // expects it; the driver has already checked that every byte came back.
    void ended(std::size_t i) override {
        clients_[i].eof = true;
        if (!eof_expected(i)) return fail(i, "the server closed the connection (EOF) during " + where(i));
        drive(i);
    }

    void failed(std::size_t i, Fault fault, const std::string& detail) override {
        fail(i, fault == Fault::connect || fault == Fault::mismatch || fault == Fault::extra
                    ? detail
                    : detail + " during " + where(i));
    }

    // ---------------------------------------------------------------- starting clients

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
            std::size_t i = next_++;
            clients_[i].connect_start = Clock::now();
            clients_[i].state = State::connecting;
            ++open_;
            result_.peak_open = std::max(result_.peak_open, open_);
            attempt_connect(i);
        }
    }

    void attempt_connect(std::size_t i) {
        Client& c = clients_[i];
        c.retry_connect = false;
        std::uint64_t seed = scripts_[i].seed ? scripts_[i].seed : i + 1;
        if (!driver_.open(i, seed, scripts_[i].connect)) {
            c.retry_connect = true;  // the unix listen queue is full
            timers_.push({Clock::now() + milliseconds(2), i});
        }
    }

    // ---------------------------------------------------------------- the script

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
        return s + ": sent " + std::to_string(driver_.stream(i).sent) + ", echoed " +
               std::to_string(driver_.stream(i).received);
    }

    // Runs the script as far as it can go now; called after every event on the client.
    void drive(std::size_t i) {
        Client& c = clients_[i];
        const auto& steps = scripts_[i].steps;
        const Stream& st = driver_.stream(i);
        for (;;) {
            if (c.state != State::running) return;
            const Step* s = c.step < steps.size() ? &steps[c.step] : nullptr;
            if (!s || s->kind == Step::Kind::close || s->kind == Step::Kind::reset) {
                // What has come back so far is checked before the connection goes.
                bool eof = false;
                if (reading(c, s) && !driver_.read_now(i, &eof)) return;
                if (eof) {
                    c.eof = true;
                    if (!eof_expected(i))
                        return fail(i, "the server closed the connection (EOF) during " + where(i));
                }
                return finish(i, s && s->kind == Step::Kind::reset);
            }
            auto now = Clock::now();
            if (!c.step_started) {
                c.step_started = true;
                switch (s->kind) {
                    case Step::Kind::push:
                        c.last_write = now;
                        [[fallthrough]];
                    case Step::Kind::send:
                        if (!driver_.send_until(i, st.sent + s->bytes)) return;
                        break;
                    case Step::Kind::expect:
                        c.recv_goal += s->bytes;
                        break;
                    case Step::Kind::round_trip:
                        c.trips = 0;
                        c.trip_start = now;
                        if (!driver_.send_until(i, st.sent + s->bytes)) return;
                        break;
                    case Step::Kind::pause:
                        c.pause_until = now + s->pause;
                        break;
                    default:
                        break;
                }
            }
            bool done = false;
            switch (s->kind) {
                case Step::Kind::send:
                    done = st.sent == st.limit;
                    break;
                case Step::Kind::push:
                    done = st.sent == st.limit || now - c.last_write >= s->pause;
                    if (done)
                        driver_.send_until(i, st.sent);  // what the server did not take stays unsent
                    else
                        timers_.push({c.last_write + s->pause, i});
                    break;
                case Step::Kind::expect:
                    done = st.received >= c.recv_goal;
                    break;
                case Step::Kind::round_trip:
                    if (st.sent == st.limit && st.received >= st.limit) {
                        result_.round_trips.add(Clock::now() - c.trip_start);
                        c.recv_goal = st.limit;
                        if (++c.trips == s->count) {
                            done = true;
                        } else {
                            c.trip_start = Clock::now();
                            if (!driver_.send_until(i, st.limit + s->bytes)) return;
                            continue;
                        }
                    }
                    break;
                case Step::Kind::pause:
                    done = now >= c.pause_until;
                    if (!done) timers_.push({c.pause_until, i});
                    break;
                case Step::Kind::shutdown_write:
                    if (!driver_.shutdown_write(i)) return;
                    c.shut = true;
                    done = true;
                    break;
                case Step::Kind::expect_eof:
                    done = c.eof;
                    break;
                case Step::Kind::close:
                case Step::Kind::reset:
                    break;  // handled above
            }
            if (!done) break;
            ++c.step;
            c.step_started = false;
        }
        driver_.set_reading(i, reading(c, c.step < steps.size() ? &steps[c.step] : nullptr));
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

    void finish(std::size_t i, bool reset) {
        driver_.close(i, reset);
        clients_[i].state = State::done;
        result_.clients[i].done = true;
        ++result_.completed;
        ++finished_;
        --open_;
    }

    void fail(std::size_t i, std::string why) {
        Client& c = clients_[i];
        driver_.close(i);
        if (c.state == State::done || c.state == State::failed) return;
        c.state = State::failed;
        result_.clients[i].error = std::move(why);
        ++result_.failed;
        ++finished_;
        --open_;
    }

    const std::vector<Script>& scripts_;
    const SwarmOptions& options_;
    const std::function<bool()>& tick_;
    std::vector<Client> clients_;
    Driver driver_;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
    SwarmResult result_;
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
    Run run(address_, scripts_, options, tick_);
    return run.run();
}

}  // namespace harness
