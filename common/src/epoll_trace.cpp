#include "common/epoll_trace.hpp"

#include <cstdio>
#include <utility>

#include "common/process.hpp"

namespace common {

std::string event_names(std::uint32_t events) {
    static constexpr std::pair<std::uint32_t, const char*> kNames[] = {
        {EPOLLIN, "IN"},   {EPOLLOUT, "OUT"}, {EPOLLRDHUP, "RDHUP"},
        {EPOLLPRI, "PRI"}, {EPOLLERR, "ERR"}, {EPOLLHUP, "HUP"}};
    std::string names;
    for (auto [bit, name] : kNames) {
        if (!(events & bit)) continue;
        if (!names.empty()) names += '|';
        names += name;
    }
    return names;
}

void trace_batch(const epoll_event* events, int n) {
    if (!tracing()) return;
    // Written directly: a big batch outgrows trace()'s line.
    std::string line = "epoll_wait -> " + std::to_string(n) + (n == 1 ? " event:" : " events:");
    for (int i = 0; i < n; ++i)
        line += " fd " + std::to_string(events[i].data.u64 & 0xffffffffu) + " " +
                event_names(events[i].events) + ",";
    line.back() = '\n';
    std::fputs(line.c_str(), stderr);
}

}  // namespace common
