// A byte buffer for a connection's input or output, after muduo's Buffer:
//
//   +-------------------+------------------+------------------+
//   |  consumed bytes   |  readable bytes  |  writable bytes  |
//   |  (reusable space) |    (content)     |  (spare space)   |
//   +-------------------+------------------+------------------+
//   0       <=       read_       <=      write_      <=    size()
//
// Appending writes at write_; consuming advances read_. When the spare space at the end
// is too small, the content is first moved back to the front (reusing consumed space)
// (when that frees at least as much as it copies) or else the storage doubles, so a buffer that is drained as
// fast as it is filled never grows. read_from() uses readv(2) with a 64 KiB stack spill: one system call
// reads as much as the kernel has, yet an idle connection's buffer stays small.
#pragma once

#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

namespace evloop::detail {

class Buffer {
public:
    std::size_t size() const { return write_ - read_; }
    bool empty() const { return write_ == read_; }
    const char* data() const { return storage_.data() + read_; }
    std::string_view view() const { return {data(), size()}; }
    std::size_t capacity() const { return storage_.size(); }

    void append(std::string_view bytes) {
        if (bytes.empty()) return;
        make_room(bytes.size());
        std::memcpy(storage_.data() + write_, bytes.data(), bytes.size());
        write_ += bytes.size();
    }

    void consume(std::size_t n) {
        if (n >= size()) {
            clear();
        } else {
            read_ += n;
        }
    }

    void clear() { read_ = write_ = 0; }

    // Gives memory back after a burst: a buffer that once held megabytes should not keep
    // them for the rest of a long-lived connection's life.
    void shrink_if_idle() {
        if (empty() && storage_.size() > kKeep) {
            std::vector<char>().swap(storage_);
            clear();
        }
    }

    // Reads once from fd. Returns the byte count, 0 at end of file, or -1 with errno set.
    long read_from(int fd) {
        char spill[65536];
        iovec iov[2];
        std::size_t spare = storage_.size() - write_;
        iov[0] = {storage_.data() + write_, spare};
        iov[1] = {spill, sizeof spill};
        // When the buffer already has 64 KiB spare, the spill would only add a copy.
        int count = spare >= sizeof spill ? 1 : 2;
        long n;
        do {
            n = ::readv(fd, iov, count);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) return n;
        auto got = static_cast<std::size_t>(n);
        if (got <= spare) {
            write_ += got;
        } else {
            write_ = storage_.size();
            append(std::string_view(spill, got - spare));
        }
        return n;
    }

private:
    static constexpr std::size_t kKeep = 64 * 1024;

    void make_room(std::size_t n) {
        std::size_t spare = storage_.size() - write_;
        if (spare >= n) return;
        // Moving the content costs size() bytes of copying; do it only when that many
        // consumed bytes are won back, so the copying per byte stays bounded.
        if (read_ + spare >= n && read_ >= size()) {
            std::memmove(storage_.data(), storage_.data() + read_, size());
            write_ -= read_;
            read_ = 0;
        }
        if (storage_.size() - write_ < n) {
            std::size_t want = storage_.size() * 2;
            if (want < write_ + n) want = write_ + n;
            if (want < 1024) want = 1024;
            storage_.resize(want);
        }
    }

    std::vector<char> storage_;
    std::size_t read_ = 0;
    std::size_t write_ = 0;
};

}  // namespace evloop::detail
