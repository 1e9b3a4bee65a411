// The mailbox through which other threads reach a loop.
#include <fcntl.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include <cerrno>
#include <utility>

#include "mailbox.hpp"

namespace evloop::detail {

Mailbox::Mailbox() {
#if defined(__linux__)
    // One eventfd is both ends: a counter that any thread can bump (eventfd(2)).
    read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
#else
    int fds[2];
    if (::pipe(fds) == 0) {
        for (int fd : fds) {
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        read_fd_ = fds[0];
        write_fd_ = fds[1];
    }
#endif
}

Mailbox::~Mailbox() {
    close();
}

bool Mailbox::post(Task task) {
    std::lock_guard lock(mutex_);
    if (closed_ || write_fd_ < 0) return false;
    bool was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
    // Only the first task of a batch needs to wake the loop; it takes them all.
    if (was_empty) {
#if defined(__linux__)
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(write_fd_, &one, sizeof one);
#else
        [[maybe_unused]] auto n = ::write(write_fd_, "x", 1);  // a full pipe is already a wakeup
#endif
    }
    return true;
}

std::vector<Mailbox::Task> Mailbox::take() {
    std::lock_guard lock(mutex_);
    return std::exchange(tasks_, {});
}

void Mailbox::drain_wakeups() {
    char buf[64];
    while (::read(read_fd_, buf, sizeof buf) > 0) {
    }
}

void Mailbox::close() {
    std::vector<Task> leftover;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        closed_ = true;
        leftover.swap(tasks_);
        if (read_fd_ >= 0) ::close(read_fd_);
        if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
        read_fd_ = write_fd_ = -1;
    }
    // Destroyed outside the lock: a task's captures may run arbitrary destructors.
}

}  // namespace evloop::detail
