// The bytes every connection sends: a pure function of (seed, position in the stream).
//
// An echo is checked by regenerating the byte that belongs at each received position.
// A counter or a repeated block would let a dropped block, a duplicated one or two
// swapped ones compare equal; a hash of the position does not (its period is 2^67
// bytes), so any loss, duplication or reordering shows up as a mismatch within a few
// bytes. The client keeps no copy of what it sent: only the count.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bench {

// splitmix64's finaliser: every input bit affects every output bit.
inline std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The eight bytes at positions [8k, 8k+8) of stream `seed`, least significant byte first.
inline std::uint64_t pattern_word(std::uint64_t seed, std::uint64_t k) {
    return mix(seed * 0x9e3779b97f4a7c15ULL + k);
}

inline unsigned char pattern_byte(std::uint64_t seed, std::uint64_t pos) {
    return static_cast<unsigned char>(pattern_word(seed, pos >> 3) >> (8 * (pos & 7)));
}

// Writes the n bytes of stream `seed` that start at position `pos`.
inline void pattern_fill(std::uint64_t seed, std::uint64_t pos, unsigned char* out, std::size_t n) {
    std::size_t i = 0;
    while (i < n && ((pos + i) & 7) != 0)
        out[i] = pattern_byte(seed, pos + i), ++i;
    if constexpr (std::endian::native == std::endian::little) {
        for (; i + 8 <= n; i += 8) {
            std::uint64_t w = pattern_word(seed, (pos + i) >> 3);
            std::memcpy(out + i, &w, 8);
        }
    }
    for (; i < n; ++i)
        out[i] = pattern_byte(seed, pos + i);
}

// Returns the index of the first byte of `in` that is not stream `seed` at `pos`, or n.
inline std::size_t pattern_check(std::uint64_t seed, std::uint64_t pos, const unsigned char* in,
                                 std::size_t n) {
    std::size_t i = 0;
    while (i < n && ((pos + i) & 7) != 0) {
        if (in[i] != pattern_byte(seed, pos + i)) return i;
        ++i;
    }
    if constexpr (std::endian::native == std::endian::little) {
        for (; i + 8 <= n; i += 8) {
            std::uint64_t got;
            std::memcpy(&got, in + i, 8);
            if (got != pattern_word(seed, (pos + i) >> 3)) break;  // the byte loop below finds which
        }
    }
    for (; i < n; ++i)
        if (in[i] != pattern_byte(seed, pos + i)) return i;
    return n;
}

}  // namespace bench
