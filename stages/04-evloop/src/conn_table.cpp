// The loop's connections by fd, and the calls that reach all of them at once.
#include "conn_table.hpp"

#include "connection.hpp"

namespace evloop::detail {

ConnTable::ConnTable() = default;
ConnTable::~ConnTable() = default;

Connection* ConnTable::insert(std::unique_ptr<Connection> conn) {
    auto slot = static_cast<std::size_t>(conn->fd());
    if (slot >= by_fd_.size()) by_fd_.resize(slot + 1);
    by_fd_[slot] = std::move(conn);
    ++live_;
    return by_fd_[slot].get();
}

Connection* ConnTable::find(int fd, std::uint64_t generation) const {
    if (fd < 0 || static_cast<std::size_t>(fd) >= by_fd_.size()) return nullptr;
    Connection* c = by_fd_[static_cast<std::size_t>(fd)].get();
    return c && c->generation() == generation && c->state() != Connection::State::closed ? c : nullptr;
}

void ConnTable::release(int fd) {
    auto slot = static_cast<std::size_t>(fd);
    released_.push_back(std::move(by_fd_[slot]));
    --live_;
}

void ConnTable::collect() {
    released_.clear();
}

void ConnTable::settle(int fd, std::uint64_t generation) {
    if (Connection* c = find(fd, generation)) c->settle();
}

void ConnTable::begin_stop() {
    for (auto& c : by_fd_)
        if (c && c->state() != Connection::State::closed) c->begin_stop();
}

void ConnTable::close_all(int error) {
    for (auto& c : by_fd_)
        if (c && c->state() != Connection::State::closed) c->force_close(error);
}

void ConnTable::destroy_all() {
    released_.clear();
    by_fd_.clear();
    live_ = 0;
}

}  // namespace evloop::detail
