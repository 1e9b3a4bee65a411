// Server: binds every address, creates the loops, and runs them: loop 0 on the
// caller's thread, the others on their own. Stream addresses get one Acceptor on loop 0
// that hands connections to loops by the chosen balance; an address with
// ?reuseport=true gets one socket per loop on Linux instead, where the kernel spreads
// connections across them (socket(7), SO_REUSEPORT). Elsewhere SO_REUSEPORT only lets
// sockets share a port without balancing, so one acceptor is used there too.
#include <sys/resource.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

#include "listener.hpp"

namespace evloop {

using detail::Loop;

struct Server::Impl {
    detail::Shared shared;
    bool served = false;

    Error bind_all(ServerInfo* info);
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

Error Server::Impl::bind_all(ServerInfo* info) {
    auto& addrs = shared.addresses;
    auto loops = static_cast<int>(shared.loops.size());
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
        Action action = shared.events.tick(delay);
        if (action == Action::shutdown) return shared.request_stop();
        if (delay.count() < 0) delay = Duration(0);
        schedule_tick(loop, detail::TimerQueue::Clock::now() + delay);
    });
}

Error Server::serve(const std::vector<std::string>& urls) {
    auto& s = impl_->shared;
    if (impl_->served) return Error{EALREADY, "serve() may be called once"};
    impl_->served = true;
    if (Error error = detail::parse_all(urls, &s.addresses)) return error;
    int count = s.options.loops;
    if (count < 0) count = static_cast<int>(std::thread::hardware_concurrency());
    if (count < 1) count = 1;
    {
        std::lock_guard lock(s.stop_mutex);
        if (s.stop_requested) return {};
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
        }
    }
    ServerInfo info;
    info.loops = count;
    Error error = impl_->bind_all(&info);
    if (!error && s.events.serving && s.events.serving(info) == Action::shutdown) s.request_stop();
    if (!error) {
        if (s.events.tick) impl_->schedule_tick(*s.loops[0], detail::TimerQueue::Clock::now());
        std::vector<std::thread> threads;
        for (std::size_t i = 1; i < s.loops.size(); ++i)
            threads.emplace_back([&s, i] { s.loops[i]->run(); });
        s.loops[0]->run();
        for (auto& t : threads)
            t.join();
    }
    // Listeners close (unix socket files go) before serve() returns, on every path.
    std::lock_guard lock(s.stop_mutex);
    s.stop_requested = true;
    s.loops.clear();
    return error;
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
