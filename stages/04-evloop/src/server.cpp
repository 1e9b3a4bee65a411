// Server: checks the options, binds every address, creates the loops, and runs them:
// loop 0 on the caller's thread, the others on their own. Stream addresses get one
// Acceptor on loop 0 that hands connections to loops by the chosen balance; an address
// with ?reuseport=true gets one socket per loop on Linux instead, where the kernel
// spreads connections across them (socket(7), SO_REUSEPORT). Elsewhere SO_REUSEPORT only
// lets sockets share a port without balancing, so one acceptor is used there too.
#include <sys/resource.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <thread>

#include "acceptor.hpp"
#include "connection.hpp"
#include "guard.hpp"
#include "udp.hpp"

namespace evloop {

using detail::Loop;

struct Server::Impl {
    detail::Shared shared;
    bool served = false;
    std::atomic<bool> serving{false};
    std::mutex dial_mutex;  // the balance state of dials from other threads
    unsigned dial_counter = 0;
    std::minstd_rand dial_rng{std::random_device{}()};

    Error make_loops();
    Error bind_all(ServerInfo* info);
    void run_loops(Error* error);
    void schedule_tick(Loop& loop, detail::TimerQueue::TimePoint when);
};

Server::Server(Events events, Options options) : impl_(std::make_unique<Impl>()) {
    impl_->shared.events = std::move(events);
    impl_->shared.options = options;
}

Server::~Server() = default;

void Server::stop() {
    impl_->shared.request_stop();
}

Error Server::Impl::make_loops() {
    auto& s = shared;
    int count = s.options.loops;
    if (count < 0) count = static_cast<int>(std::thread::hardware_concurrency());
    if (count < 1) count = 1;
    for (int i = 0; i < count; ++i) {
        int err = 0;
        auto poller = detail::make_poller(s.options.backend, &err);
        if (!poller)
            return Error{err, std::string("cannot use the ") + backend_name(s.options.backend) +
                                  " backend: " + std::strerror(err)};
        auto mailbox = std::make_shared<detail::Mailbox>();
        if (!mailbox->ok())
            return Error{errno, std::string("cannot create a wakeup fd: ") + std::strerror(errno)};
        s.loops.push_back(std::make_unique<Loop>(s, i, std::move(poller), std::move(mailbox)));
        if (int werr = s.loops.back()->start())
            return Error{werr,
                         "loop " + std::to_string(i) + " cannot watch its wakeup fd: " + std::strerror(werr)};
    }
    return {};
}

Error Server::Impl::bind_all(ServerInfo* info) {
    auto& addrs = shared.addresses;
    auto loops = static_cast<int>(shared.loops.size());
    shared.bound.resize(addrs.size());
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        const auto& a = addrs[i];
#if defined(__linux__)
        bool per_loop = a.reuseport && !a.is_unix() && loops > 1;
#else
        bool per_loop = false;
#endif
        bool v6only = detail::needs_v6only(addrs, i);
        int port = 0;
        for (int l = 0; l < (per_loop ? loops : 1); ++l) {
            Error error;
            auto socket = detail::open_listener(a, v6only, port, &error);
            if (error) return error;
            if (l == 0) {
                info->addrs.push_back(detail::bound_url(socket, a));
                shared.bound[i] = detail::local_address(socket.fd(), a.scheme);
                if (a.is_unix()) shared.bound[i] = detail::make_address(a.scheme, a.storage, a.length);
                port = detail::bound_port(socket.fd());
            }
            Loop& loop = *shared.loops[static_cast<std::size_t>(l)];
            int index = static_cast<int>(i);
            std::unique_ptr<detail::IoHandler> handler;
            int err;
            if (a.is_stream()) {
                auto acceptor = std::make_unique<detail::Acceptor>(loop, std::move(socket), index, per_loop);
                err = acceptor->start();
                handler = std::move(acceptor);
            } else {
                auto endpoint = std::make_unique<detail::UdpEndpoint>(loop, std::move(socket), index);
                err = endpoint->start();
                handler = std::move(endpoint);
            }
            loop.add_io(std::move(handler));
            if (err) return Error{err, "cannot listen on " + a.url() + ": " + std::strerror(err)};
        }
    }
    return {};
}

void Server::Impl::schedule_tick(Loop& loop, detail::TimerQueue::TimePoint when) {
    loop.timers().add(when, [this, &loop] {
        if (loop.stopping()) return;
        Duration delay = std::chrono::seconds(1);
        Action action = detail::guarded(shared, nullptr, shared.events.tick, delay);
        loop.run_deferred();
        if (action == Action::shutdown) return shared.request_stop();
        schedule_tick(loop, detail::deadline(detail::TimerQueue::Clock::now(), delay));
    });
}

// Loop 0 runs here; the others on threads. A thread that cannot start is a setup error:
// the loops already running are stopped and joined before serve() returns it.
void Server::Impl::run_loops(Error* error) {
    std::vector<std::thread> threads;
    try {
        for (std::size_t i = 1; i < shared.loops.size(); ++i)
            threads.emplace_back([this, i] { shared.loops[i]->run(); });
    } catch (const std::system_error& e) {
        *error = Error{e.code().value() ? e.code().value() : EAGAIN,
                       "cannot start loop thread " + std::to_string(threads.size() + 1) + ": " + e.what()};
        shared.request_stop();
    }
    shared.loops[0]->run();
    for (auto& t : threads)
        t.join();
    // Loops that never got a thread still own their sockets: those close with the loops.
}

Error Server::serve(const std::vector<std::string>& urls) {
    auto& s = impl_->shared;
    if (impl_->served) return Error{EALREADY, "serve() may be called once"};
    impl_->served = true;
    if (Error error = detail::check_options(s.options)) return error;
    s.low_water = s.options.low_water.value_or(s.options.high_water / 4);
    if (Error error = detail::parse_all(urls, &s.addresses)) return error;
    Error error;
    {
        std::lock_guard lock(s.stop_mutex);
        if (s.stop_requested) return {};
        error = impl_->make_loops();
    }
    ServerInfo info;
    info.loops = static_cast<int>(s.loops.size());
    if (!error) error = impl_->bind_all(&info);
    if (!error) {
        impl_->serving = true;
        if (s.events.serving && detail::guarded(s, nullptr, s.events.serving, info) == Action::shutdown)
            s.request_stop();
        if (s.events.tick) impl_->schedule_tick(*s.loops[0], detail::TimerQueue::Clock::now());
        impl_->run_loops(&error);
        impl_->serving = false;
    }
    // Listeners close (unix socket files go) and every socket is closed before serve()
    // returns, on every path.
    {
        std::lock_guard lock(s.stop_mutex);
        s.stop_requested = true;
        s.loops.clear();
    }
    if (auto failure = s.failure()) std::rethrow_exception(failure);
    return error;
}

Error Server::dial(const std::string& url, DialOptions options, int loop) {
    auto& s = impl_->shared;
    std::string why;
    auto target = common::parse_address(url, &why);
    if (!target) return Error{EINVAL, "cannot dial '" + url + "': " + why};
    if (!target->is_stream()) return Error{EPROTONOSUPPORT, "cannot dial " + url + ": only stream addresses"};
    if (!target->is_unix() && target->port == 0) return Error{EINVAL, "cannot dial " + url + ": port 0"};
    std::lock_guard lock(s.stop_mutex);
    if (!impl_->serving || s.stop_requested)
        return Error{ENOTCONN, "cannot dial " + url + ": the server is not running"};
    if (loop >= static_cast<int>(s.loops.size()))
        return Error{EINVAL, "cannot dial " + url + ": no loop " + std::to_string(loop)};
    Loop* target_loop;
    if (loop >= 0) {
        target_loop = s.loops[static_cast<std::size_t>(loop)].get();
    } else {
        std::lock_guard dial_lock(impl_->dial_mutex);
        target_loop = &detail::balanced_loop(s, impl_->dial_counter, impl_->dial_rng);
    }
    bool posted =
        target_loop->mailbox()->post([address = *target, options = std::move(options)](Loop& l) mutable {
            detail::dial(l, address, std::move(options));
        });
    if (!posted) return Error{ENOTCONN, "cannot dial " + url + ": the loop has stopped"};
    return {};
}

Error serve(Events events, const std::vector<std::string>& urls, Options options) {
    return Server(std::move(events), options).serve(urls);
}

long raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    rlim_t want = rl.rlim_max;
#if defined(__APPLE__)
    if (want > OPEN_MAX) want = OPEN_MAX;  // macOS refuses more than OPEN_MAX (setrlimit(2))
#endif
    if (rl.rlim_cur < want) {
        rlimit raised = rl;
        raised.rlim_cur = want;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(rl.rlim_cur);
}

}  // namespace evloop
