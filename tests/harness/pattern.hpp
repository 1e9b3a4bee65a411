// The bytes every test client and every benchmark connection sends: a pure function of
// (seed, position in the stream).
//
// An echo is checked by regenerating the byte that belongs at each received position, so a
// client keeps no copy of what it sent, only a count. A counter or a repeated block would let
// a dropped block, a duplicated one or two swapped ones compare equal; a hash of the position
// does not, and a byte that arrives on another client's connection (another seed) is caught
// as well.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace harness {

// The byte at offset i of stream `seed` is byte i % 8 (least significant first) of a 64-bit
// hash of (seed, i / 8): no period at any length a test or a benchmark reaches.
class Pattern {
public:
    explicit Pattern(std::uint64_t seed = 1);
    std::uint64_t seed() const { return seed_; }
    std::uint8_t at(std::uint64_t offset) const;
    void fill(std::uint64_t offset, std::span<std::uint8_t> out) const;
    std::vector<std::uint8_t> bytes(std::uint64_t offset, std::size_t n) const;
    std::string text(std::uint64_t offset, std::size_t n) const;  // the same bytes as a string
    // Offset (absolute, i.e. `offset` + index) of the first byte of `data` that differs.
    std::optional<std::uint64_t> first_mismatch(std::uint64_t offset,
                                                std::span<const std::uint8_t> data) const;

private:
    std::uint64_t word(std::uint64_t index) const;  // the 8 bytes at [8 * index, 8 * index + 8)
    std::uint64_t seed_;
    std::uint64_t key_;  // the seed, hashed once
};

// "byte 1234 of the stream: expected 0x5a, got 0x00": how every helper names a wrong byte.
std::string describe_wrong_byte(std::uint64_t offset, std::uint8_t expected, std::uint8_t got);

// Verifies an incoming stream chunk by chunk; remembers the first bad offset.
class PatternChecker {
public:
    // `start`: the stream offset of the first byte it will see.
    explicit PatternChecker(Pattern p, std::uint64_t start = 0) : pattern_(p), offset_(start) {}
    // Returns false once any byte so far was wrong.
    bool consume(std::span<const std::uint8_t> data);
    std::uint64_t offset() const { return offset_; }  // stream offset of the next byte
    std::optional<std::uint64_t> first_bad() const { return bad_; }
    std::string describe_bad() const;  // describe_wrong_byte() of the first bad byte, or ""

private:
    Pattern pattern_;
    std::uint64_t offset_ = 0;
    std::optional<std::uint64_t> bad_;
    std::uint8_t bad_expected_ = 0, bad_got_ = 0;
};

}  // namespace harness
