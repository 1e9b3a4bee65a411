// SipHash, the keyed hash Redis uses for its keyspace, and why it is here: with a
// hash everybody can compute (std::hash is unkeyed), a client can choose keys that all land
// in one bucket; every lookup then walks all of them, n such keys cost n * n steps, and the
// one loop stalls for every client. Keyed with 128 random bits chosen at start-up,
// the bucket of a key cannot be predicted from outside, so nobody can aim at one.
// (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012.)
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace redis {

// C compression rounds per word, D finalisation rounds. The keyspace uses 1-3, as Redis
// does; the unit test checks 2-4 against the paper's published vector.
template <int C, int D>
class SipHash {
public:
    SipHash(std::uint64_t k0, std::uint64_t k1) : k0_(k0), k1_(k1) {}

    std::uint64_t operator()(std::string_view s) const {
        std::uint64_t v0 = k0_ ^ 0x736f6d6570736575ULL, v1 = k1_ ^ 0x646f72616e646f6dULL;
        std::uint64_t v2 = k0_ ^ 0x6c7967656e657261ULL, v3 = k1_ ^ 0x7465646279746573ULL;
        auto round = [&] {
            v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
            v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
            v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
            v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
        };
        const char* p = s.data();
        std::size_t n = s.size();
        for (; n >= 8; p += 8, n -= 8) {
            std::uint64_t m = word(p);
            v3 ^= m;
            for (int r = 0; r < C; ++r)
                round();
            v0 ^= m;
        }
        std::uint64_t last = load(p, n) | (std::uint64_t(s.size()) << 56);
        v3 ^= last;
        for (int r = 0; r < C; ++r)
            round();
        v0 ^= last;
        v2 ^= 0xff;
        for (int r = 0; r < D; ++r)
            round();
        return v0 ^ v1 ^ v2 ^ v3;
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }
    // Little-endian, whatever the machine, so a key hashes the same everywhere.
    static std::uint64_t word(const char* p) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
        return v;
    }
    static std::uint64_t load(const char* p, std::size_t n) {
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i)
            v |= std::uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
        return v;
    }

    std::uint64_t k0_, k1_;
};

using SipHash13 = SipHash<1, 3>;

}  // namespace redis
