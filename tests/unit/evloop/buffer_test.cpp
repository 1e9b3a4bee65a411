// The connection buffer.
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "buffer.hpp"
#include "doctest/doctest.h"

using evloop::detail::Buffer;

TEST_CASE("a buffer returns what was appended, in order, across partial consumes") {
    Buffer b;
    std::string model;
    for (int i = 0; i < 2000; ++i) {
        std::string chunk(static_cast<std::size_t>(i % 97 + 1), static_cast<char>('a' + i % 26));
        b.append(chunk);
        model += chunk;
        std::size_t take = static_cast<std::size_t>(i * 7 % 131);
        b.consume(take);
        model.erase(0, std::min(take, model.size()));
        REQUIRE(b.view() == model);
    }
}

TEST_CASE("a buffer drained as fast as it is filled does not grow") {
    Buffer b;
    std::string chunk(1000, 'x');
    b.append(chunk);
    auto capacity = b.capacity();
    for (int i = 0; i < 10000; ++i) {
        b.append(chunk);
        b.consume(1000);
    }
    CHECK(b.capacity() <= 2 * capacity + 2000);
}

// Reads once, appending what landed in the spill behind what landed in the spare space.
long read_all(Buffer& b, int fd) {
    char spill[65536];
    std::size_t spilled = 0;
    long n = b.read_from(fd, spill, sizeof spill, &spilled);
    if (n > 0) b.append(std::string_view(spill, spilled));
    return n;
}

TEST_CASE("read_from takes everything the kernel has in one call, spilling past the spare space") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    std::string sent(100000, 'q');
    for (std::size_t i = 0; i < sent.size(); ++i)
        sent[i] = static_cast<char>('a' + i % 26);
    std::size_t off = 0;
    Buffer b;
    b.append("head:");
    while (off < sent.size()) {
        long n = ::write(sv[0], sent.data() + off, std::min<std::size_t>(50000, sent.size() - off));
        REQUIRE(n > 0);
        off += static_cast<std::size_t>(n);
        while (b.size() < 5 + off)
            REQUIRE(read_all(b, sv[1]) > 0);
    }
    CHECK(b.view() == "head:" + sent);
    ::close(sv[0]);
    CHECK(read_all(b, sv[1]) == 0);
    ::close(sv[1]);
}

TEST_CASE("an empty buffer reads straight into the spill and owns no memory") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    REQUIRE(::write(sv[0], "hello", 5) == 5);
    Buffer b;
    char spill[64];
    std::size_t spilled = 0;
    CHECK(b.read_from(sv[1], spill, sizeof spill, &spilled) == 5);
    CHECK(spilled == 5);
    CHECK(std::string_view(spill, spilled) == "hello");
    CHECK(b.empty());
    CHECK(b.capacity() == 0);
    ::close(sv[0]);
    ::close(sv[1]);
}
