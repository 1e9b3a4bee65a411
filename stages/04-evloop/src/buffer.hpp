// A byte buffer for a connection's kept input or queued output, after muduo's Buffer:
//
//   +-------------------+------------------+------------------+
//   |  consumed bytes   |  readable bytes  |  writable bytes  |
//   |  (reusable space) |    (content)     |  (spare space)   |
//   +-------------------+------------------+------------------+
//   0       <=       read_       <=      write_      <=    capacity_
//
// Appending writes at write_; consuming advances read_. When the spare space at the end
// is too small, the content is first moved back to the front (when that frees at least
// as much as it copies), or else the storage grows. Storage comes from malloc/realloc,
// never zero-filled: a buffer that grows to 2 MiB but holds 1 MiB costs about 1 MiB of
// resident memory, because pages nobody wrote are never touched. An empty buffer owns
// nothing, which is what an idle connection's two buffers are.
//
// read_from() reads once with readv(2): first into the spare space, then into a spill
// area the caller lends (the loop's read buffer), and leaves the spilled bytes there. So
// a connection with nothing kept reads straight into the loop's buffer and nobody copies;
// one with a partial frame kept appends the new bytes behind it.
#pragma once

#include <sys/uio.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace evloop::detail {

class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { std::free(storage_); }

    std::size_t size() const { return write_ - read_; }
    bool empty() const { return write_ == read_; }
    const char* data() const { return storage_ + read_; }
    std::string_view view() const { return {data(), size()}; }
    std::size_t capacity() const { return capacity_; }

    void append(std::string_view bytes) {
        if (bytes.empty()) return;
        make_room(bytes.size());
        std::memcpy(storage_ + write_, bytes.data(), bytes.size());
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

    // Gives memory back: a buffer that once held megabytes should not keep them for the
    // rest of a long-lived connection's life. Small storage is kept to be reused.
    void shrink_if_idle() {
        if (empty() && capacity_ > kKeep) release();
    }
    void release() {
        std::free(std::exchange(storage_, nullptr));
        capacity_ = read_ = write_ = 0;
    }

    // Reads once from fd into the spare space, then into spill. Returns the byte count, 0
    // at end of file, or -1 with errno set; *spilled says how many of those bytes are at
    // the start of spill (the rest were appended here).
    long read_from(int fd, char* spill, std::size_t spill_size, std::size_t* spilled) {
        iovec iov[2];
        int count = 0;
        std::size_t spare = capacity_ - write_;
        if (spare > 0) iov[count++] = {storage_ + write_, spare};
        iov[count++] = {spill, spill_size};
        long n;
        do {
            n = ::readv(fd, iov, count);
        } while (n < 0 && errno == EINTR);
        *spilled = 0;
        if (n <= 0) return n;
        auto got = static_cast<std::size_t>(n);
        write_ += got < spare ? got : spare;
        *spilled = got > spare ? got - spare : 0;
        return n;
    }

private:
    static constexpr std::size_t kKeep = 64 * 1024;

    void make_room(std::size_t n) {
        std::size_t spare = capacity_ - write_;
        if (spare >= n) return;
        // Moving the content costs size() bytes of copying; do it only when that many
        // consumed bytes are won back, so the copying per byte stays bounded.
        if (read_ + spare >= n && read_ >= size()) {
            std::memmove(storage_, storage_ + read_, size());
            write_ -= read_;
            read_ = 0;
            return;
        }
        std::size_t want = capacity_ * 2;
        if (want < write_ + n) want = write_ + n;
        if (want < 1024) want = 1024;
        void* grown = std::realloc(storage_, want);
        if (!grown) throw std::bad_alloc();
        storage_ = static_cast<char*>(grown);
        capacity_ = want;
    }

    char* storage_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t read_ = 0;
    std::size_t write_ = 0;
};

}  // namespace evloop::detail
