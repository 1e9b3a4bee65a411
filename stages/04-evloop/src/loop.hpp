// One event loop: a poller, one record per fd it watches, its connections, its timers,
// and a mailbox through which other threads reach it. Everything here except the
// mailbox and `load` belongs to the loop's own thread.
//
// The loop is the only owner of registration: a connection, an acceptor or a UDP socket
// asks the loop to watch, modify or unwatch its fd, and the loop compares with its
// record and tells the poller only what changed (with the old interest, as Redis's ae
// does). Nothing else calls the poller.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "conn_table.hpp"
#include "mailbox.hpp"
#include "poller.hpp"
#include "shared.hpp"
#include "timer.hpp"

namespace evloop::detail {

// Anything with an fd in the poller: a connection, an acceptor, a UDP socket, the mailbox.
class IoHandler {
public:
    virtual ~IoHandler() = default;
    virtual void on_event(const PollEvent& event) = 0;
};

class Loop {
public:
    Loop(Shared& shared, int index, std::unique_ptr<Poller> poller, std::shared_ptr<Mailbox> mailbox);
    ~Loop();

    // Watches the mailbox; called before any thread runs the loop, so a loop that could
    // never hear a stop is a setup error instead of a loop that exits early. 0 or errno.
    int start();
    void run();              // until stopped and every connection has closed
    static Loop* current();  // the loop this thread is running, or nullptr

    int index() const { return index_; }
    Shared& shared() { return shared_; }
    const std::shared_ptr<Mailbox>& mailbox() const { return mailbox_; }
    TimerQueue& timers() { return timers_; }
    TimerQueue::TimePoint now() const { return now_; }
    ConnTable& conns() { return conns_; }
    char* read_buffer() { return read_buffer_.data(); }
    std::size_t read_buffer_size() const { return read_buffer_.size(); }
    bool stopping() const { return stopping_; }

    // Registration; watch and modify return 0 or errno, and modify costs no system call
    // when the interest is unchanged.
    int watch(int fd, unsigned interest, IoHandler* handler);
    int modify(int fd, unsigned interest);
    // Takes fd out of the poller until the next modify(): for an orderly hangup, which
    // epoll and poll would otherwise report on every wait whatever the interest.
    void mute(int fd);
    void unwatch(int fd);
    unsigned interest(int fd) const;

    // The connection whose callback is running. A call on any other connection (one
    // reached through Handle::here()) is settled once the current callback returns, so
    // its output is sent and its interest updated although no event of its own ran.
    Connection* active() const { return active_; }
    Connection* set_active(Connection* c) {
        Connection* outer = active_;
        active_ = c;
        return outer;
    }
    void settle_later(int fd, std::uint64_t generation) { deferred_.push_back({fd, generation}); }
    void run_deferred();

    void add_io(std::unique_ptr<IoHandler> handler);  // an acceptor or UDP socket to own
    void begin_stop();
    void trace(const char* format, ...) __attribute__((format(printf, 2, 3)));

    // Connections this loop owns or is about to receive: read by least-connections.
    std::atomic<long> load{0};

private:
    struct FdRecord {
        IoHandler* handler = nullptr;
        unsigned interest = kNone;
        bool in_poller = false;  // false while muted
        bool stale = false;      // unwatched during this batch: its later events are old news
    };
    FdRecord* record(int fd);
    void dispatch(const PollEvent& event);
    void turn();

    Shared& shared_;
    int index_;
    std::unique_ptr<Poller> poller_;
    std::shared_ptr<Mailbox> mailbox_;
    TimerQueue timers_;
    TimerQueue::TimePoint now_;
    std::vector<char> read_buffer_ = std::vector<char>(65536);
    std::vector<PollEvent> events_;
    std::vector<FdRecord> fds_;  // by fd
    std::vector<int> stale_list_;
    ConnTable conns_;
    Connection* active_ = nullptr;
    struct Deferred {
        int fd;
        std::uint64_t generation;
    };
    std::vector<Deferred> deferred_, deferred_now_;
    std::vector<std::unique_ptr<IoHandler>> ios_;  // acceptors and UDP sockets
    std::unique_ptr<IoHandler> waker_;
    bool stopping_ = false;
};

}  // namespace evloop::detail
