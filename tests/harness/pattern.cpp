// The position-dependent byte stream and latency percentiles.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "harness.hpp"

namespace harness {
namespace {

// splitmix64's finaliser: every input bit affects every output bit, so neighbouring
// blocks and neighbouring seeds give unrelated bytes.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

std::uint64_t block(std::uint64_t seed, std::uint64_t index) {
    return mix(index ^ mix(seed));
}

}  // namespace

std::uint8_t Pattern::at(std::uint64_t offset) const {
    return static_cast<std::uint8_t>(block(seed_, offset / 8) >> (8 * (offset % 8)));
}

void Pattern::fill(std::uint64_t offset, std::span<std::uint8_t> out) const {
    std::size_t i = 0;
    // Head up to a block boundary, then whole blocks, then the tail.
    while (i < out.size() && (offset + i) % 8 != 0) {
        out[i] = at(offset + i);
        ++i;
    }
    std::uint64_t seed_hash = mix(seed_);
    while (out.size() - i >= 8) {
        std::uint64_t v = mix(((offset + i) / 8) ^ seed_hash);
        for (int b = 0; b < 8; ++b)
            out[i + b] = static_cast<std::uint8_t>(v >> (8 * b));
        i += 8;
    }
    while (i < out.size()) {
        out[i] = at(offset + i);
        ++i;
    }
}

std::vector<std::uint8_t> Pattern::bytes(std::uint64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    fill(offset, out);
    return out;
}

std::optional<std::uint64_t> Pattern::first_mismatch(std::uint64_t offset,
                                                     std::span<const std::uint8_t> data) const {
    std::uint8_t expected[4096];
    for (std::size_t done = 0; done < data.size();) {
        std::size_t n = std::min(sizeof expected, data.size() - done);
        fill(offset + done, std::span(expected, n));
        if (std::memcmp(expected, data.data() + done, n) != 0) {
            for (std::size_t k = 0; k < n; ++k)
                if (expected[k] != data[done + k]) return offset + done + k;
        }
        done += n;
    }
    return std::nullopt;
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
    if (!bad_) return "";
    char text[128];
    std::snprintf(text, sizeof text, "byte %llu of the stream: expected 0x%02x, got 0x%02x",
                  static_cast<unsigned long long>(*bad_), bad_expected_, bad_got_);
    return text;
}

// ------------------------------------------------------------------ latencies

double to_ms(Duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

void Latencies::merge(const Latencies& other) {
    samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
    sorted_ = false;
}

Duration Latencies::percentile(double p) const {
    if (samples_.empty()) return Duration::zero();
    if (!sorted_) {
        std::sort(samples_.begin(), samples_.end());
        sorted_ = true;
    }
    p = std::clamp(p, 0.0, 100.0);
    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples_.size())));
    return samples_[rank == 0 ? 0 : rank - 1];
}

std::string Latencies::summary() const {
    char text[160];
    std::snprintf(text, sizeof text, "n=%zu p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms", count(),
                  to_ms(percentile(50)), to_ms(percentile(90)), to_ms(percentile(99)), to_ms(max()));
    return text;
}

}  // namespace harness
