// The position-dependent byte stream. fill() and first_mismatch() work a 64-bit word at a time,
// because the benchmark runs them on every byte it sends and receives.
#include "harness/pattern.hpp"

#include <bit>
#include <cstdio>
#include <cstring>

namespace harness {
namespace {

// splitmix64's finaliser: every input bit affects every output bit, so neighbouring
// words and neighbouring seeds give unrelated bytes.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

constexpr bool kLittleEndian = std::endian::native == std::endian::little;

}  // namespace

Pattern::Pattern(std::uint64_t seed) : seed_(seed), key_(mix(seed)) {}

std::uint64_t Pattern::word(std::uint64_t index) const {
    return mix(index ^ key_);
}

std::uint8_t Pattern::at(std::uint64_t offset) const {
    return static_cast<std::uint8_t>(word(offset / 8) >> (8 * (offset % 8)));
}

void Pattern::fill(std::uint64_t offset, std::span<std::uint8_t> out) const {
    std::size_t i = 0;
    // Head up to a word boundary, then whole words, then the tail.
    for (; i < out.size() && (offset + i) % 8 != 0; ++i)
        out[i] = at(offset + i);
    if constexpr (kLittleEndian) {
        for (; out.size() - i >= 8; i += 8) {
            std::uint64_t w = word((offset + i) / 8);
            std::memcpy(out.data() + i, &w, 8);
        }
    }
    for (; i < out.size(); ++i)
        out[i] = at(offset + i);
}

std::vector<std::uint8_t> Pattern::bytes(std::uint64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    fill(offset, out);
    return out;
}

std::string Pattern::text(std::uint64_t offset, std::size_t n) const {
    auto b = bytes(offset, n);
    return {b.begin(), b.end()};
}

std::optional<std::uint64_t> Pattern::first_mismatch(std::uint64_t offset,
                                                     std::span<const std::uint8_t> data) const {
    std::size_t i = 0;
    for (; i < data.size() && (offset + i) % 8 != 0; ++i)
        if (data[i] != at(offset + i)) return offset + i;
    if constexpr (kLittleEndian) {
        for (; data.size() - i >= 8; i += 8) {
            std::uint64_t got;
            std::memcpy(&got, data.data() + i, 8);
            if (got != word((offset + i) / 8)) break;  // the byte loop below finds which
        }
    }
    for (; i < data.size(); ++i)
        if (data[i] != at(offset + i)) return offset + i;
    return std::nullopt;
}

std::string describe_wrong_byte(std::uint64_t offset, std::uint8_t expected, std::uint8_t got) {
    char text[96];
    std::snprintf(text, sizeof text, "byte %llu of the stream: expected 0x%02x, got 0x%02x",
                  static_cast<unsigned long long>(offset), expected, got);
    return text;
}

bool PatternChecker::consume(std::span<const std::uint8_t> data) {
    if (bad_) return false;
    if (auto bad = pattern_.first_mismatch(offset_, data)) {
        bad_ = *bad;
        bad_expected_ = pattern_.at(*bad);
        bad_got_ = data[*bad - offset_];
        offset_ += data.size();
        return false;
    }
    offset_ += data.size();
    return true;
}

std::string PatternChecker::describe_bad() const {
    return bad_ ? describe_wrong_byte(*bad_, bad_expected_, bad_got_) : "";
}

}  // namespace harness
