// A loop's connections, by fd. A closed connection is released here and freed only at
// the end of the loop's turn, so a Conn that a callback still holds, or an event later in
// the same batch, never points at freed memory.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace evloop::detail {

class Connection;

class ConnTable {
public:
    ConnTable();
    ~ConnTable();
    ConnTable(const ConnTable&) = delete;
    ConnTable& operator=(const ConnTable&) = delete;

    Connection* insert(std::unique_ptr<Connection> conn);  // at its fd
    // The connection on fd if it is still the one with this generation and not closed.
    Connection* find(int fd, std::uint64_t generation) const;
    void release(int fd);                           // its connection has closed or detached
    void collect();                                 // frees what was released
    void settle(int fd, std::uint64_t generation);  // see Loop::settle_later
    long count() const { return live_; }

    void begin_stop();          // every connection drains and closes
    void close_all(int error);  // every connection closes now
    void destroy_all();         // the loop is going: free everything

private:
    std::vector<std::unique_ptr<Connection>> by_fd_;
    std::vector<std::unique_ptr<Connection>> released_;
    long live_ = 0;
};

}  // namespace evloop::detail
