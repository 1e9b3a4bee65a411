// Choosing a backend: the best one compiled in, unless the caller names one.
#include <cerrno>

#include "poller.hpp"

namespace evloop {

std::vector<Backend> available_backends() {
    std::vector<Backend> out;
#if defined(__linux__)
    out.push_back(Backend::epoll);
#endif
#if defined(EVLOOP_HAVE_KQUEUE)
    out.push_back(Backend::kqueue);
#endif
    out.push_back(Backend::poll);
    return out;
}

const char* backend_name(Backend backend) {
    switch (backend) {
        case Backend::best:
            return "best";
        case Backend::epoll:
            return "epoll";
        case Backend::kqueue:
            return "kqueue";
        case Backend::poll:
            return "poll";
    }
    return "?";
}

namespace detail {

std::unique_ptr<Poller> make_poller(Backend backend, int* error) {
    *error = 0;
    switch (backend) {
        case Backend::best:
            return make_poller(available_backends().front(), error);
        case Backend::epoll:
#if defined(__linux__)
            return make_epoll_poller(error);
#else
            break;
#endif
        case Backend::kqueue:
#if defined(EVLOOP_HAVE_KQUEUE)
            return make_kqueue_poller(error);
#else
            break;
#endif
        case Backend::poll:
            return make_poll_poller(error);
    }
    *error = ENOSYS;
    return nullptr;
}

}  // namespace detail
}  // namespace evloop
