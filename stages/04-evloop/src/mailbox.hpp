// How other threads reach a loop: a locked queue of tasks plus the fd that wakes the loop
// (an eventfd on Linux, a pipe elsewhere). Handles keep the mailbox alive with
// shared_ptr, so posting to a loop that has finished is safe: it just fails.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

namespace evloop::detail {

class Loop;

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

}  // namespace evloop::detail
