// One event loop: a poller, the handlers of the fds it watches, its connections, its
// timers, and a mailbox through which other threads reach it. Everything here except
// Mailbox and the atomics belongs to the loop's own thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/address.hpp"
#include "evloop/evloop.hpp"
#include "poller.hpp"
#include "timer.hpp"

namespace evloop::detail {

class Loop;
class Connection;
struct Shared;

// Anything with an fd in the poller: a connection, an acceptor, a UDP socket, a waker.
class IoHandler {
public:
    virtual ~IoHandler() = default;
    virtual void on_event(const PollEvent& event) = 0;
};

// A thread-safe queue of work for one loop, plus the fd that wakes it (an eventfd on
// Linux, a pipe elsewhere). Handles keep it alive with shared_ptr, so posting to a
// loop that has finished is safe: it just fails.
class Mailbox {
public:
    using Task = std::function<void(Loop&)>;
    Mailbox();
    ~Mailbox();
    Mailbox(const Mailbox&) = delete;
    Mailbox& operator=(const Mailbox&) = delete;

    int read_fd() const { return read_fd_; }
    bool ok() const { return read_fd_ >= 0; }
    bool post(Task task);  // false once closed
    std::vector<Task> take();
    void drain_wakeups();
    // Refuses further posts. Tasks still queued are destroyed unrun (an accepted fd held
    // by one is closed by its owner object).
    void close();

private:
    std::mutex mutex_;
    std::vector<Task> tasks_;
    bool closed_ = false;
    int read_fd_ = -1;
    int write_fd_ = -1;
};

// State every loop shares: set up before the loops start, then read-only or atomic.
struct Shared {
    Events events;
    Options options;
    std::vector<common::Address> addresses;
    std::vector<std::unique_ptr<Loop>> loops;
    std::atomic<long> conns{0};  // open connections plus those being handed to a loop

    std::mutex stop_mutex;
    bool stop_requested = false;  // guarded by stop_mutex
    void request_stop();          // any thread: posts a stop to every started loop
    void started(Loop& loop);     // a loop's mailbox is ready to receive the stop
};

class Loop {
public:
    Loop(Shared& shared, int index, std::unique_ptr<Poller> poller, std::shared_ptr<Mailbox> mailbox);
    ~Loop();

    void run();  // until stopped and every connection has closed
    int index() const { return index_; }
    Shared& shared() { return shared_; }
    const std::shared_ptr<Mailbox>& mailbox() const { return mailbox_; }
    TimerQueue& timers() { return timers_; }
    TimerQueue::TimePoint now() const { return now_; }
    Poller& poller() { return *poller_; }
    char* read_buffer() { return read_buffer_.data(); }
    std::size_t read_buffer_size() const { return read_buffer_.size(); }
    bool stopping() const { return stopping_; }

    // Registration of an fd and its handler; watch and unwatch return 0 or errno.
    int watch(int fd, unsigned interest, IoHandler* handler);
    void unwatch(int fd);

    // Takes ownership of an accepted, non-blocking socket and opens a connection on it.
    void adopt(int fd, int addr_index, const sockaddr_storage& peer, socklen_t peer_len);
    Connection* find(int fd, std::uint64_t generation);
    // Called by the connection on fd once it has closed or detached; freed after the batch.
    void release(int fd);

    void add_io(std::unique_ptr<IoHandler> handler);  // an acceptor or UDP socket to own
    void begin_stop();
    void trace(const char* format, ...) __attribute__((format(printf, 2, 3)));

    // Connections this loop owns or is about to receive: read by least-connections.
    std::atomic<long> load{0};

private:
    void dispatch(const PollEvent& event);
    void run_mailbox();
    void force_close_all(int error);

    Shared& shared_;
    int index_;
    std::unique_ptr<Poller> poller_;
    std::shared_ptr<Mailbox> mailbox_;
    TimerQueue timers_;
    TimerQueue::TimePoint now_;
    std::vector<char> read_buffer_ = std::vector<char>(65536);
    std::vector<PollEvent> events_;
    std::vector<IoHandler*> handlers_;                // fd -> handler
    std::vector<std::unique_ptr<Connection>> conns_;  // fd -> connection
    std::vector<std::unique_ptr<Connection>> graveyard_;
    std::vector<std::unique_ptr<IoHandler>> ios_;  // acceptors and UDP sockets
    std::vector<char> stale_;                      // fds closed during this batch
    std::vector<int> stale_list_;
    std::unique_ptr<IoHandler> waker_;
    std::uint64_t next_generation_ = 1;
    long open_conns_ = 0;
    bool stopping_ = false;
};

std::unique_ptr<IoHandler> make_waker(Loop& loop);  // runs the loop's mailbox tasks

// Rate-limited warning to stderr: at most one line per key per second.
void warn_limited(const char* key, const std::string& message);

}  // namespace evloop::detail
