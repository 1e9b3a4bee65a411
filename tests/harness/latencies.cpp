#include "harness/latencies.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

namespace harness {
namespace {

constexpr int kSubBits = 6;                       // 64 buckets per power of two
constexpr std::uint64_t kExact = 2u << kSubBits;  // values below this get a bucket each
constexpr std::size_t kBuckets = (64 - kSubBits) * (1u << kSubBits) + kExact;

std::size_t index_of(std::uint64_t v) {
    if (v < kExact) return static_cast<std::size_t>(v);
    int shift = std::bit_width(v) - 1 - kSubBits;  // keeps the top kSubBits + 1 bits
    return static_cast<std::size_t>(shift) * (1u << kSubBits) + static_cast<std::size_t>(v >> shift);
}

std::uint64_t upper_bound_of(std::size_t i) {
    if (i < kExact) return i;
    std::size_t shift = i / (1u << kSubBits) - 1;
    std::uint64_t top = i - shift * (1u << kSubBits);
    return ((top + 1) << shift) - 1;
}

}  // namespace

Latencies::Latencies() : buckets_(kBuckets, 0) {}

void Latencies::add(Duration d) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0));
    ++buckets_[index_of(v)];
    ++count_;
    max_ = std::max(max_, v);
}

void Latencies::merge(const Latencies& other) {
    for (std::size_t i = 0; i < buckets_.size(); ++i)
        buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
}

Duration Latencies::percentile(double p) const {
    if (count_ == 0) return Duration::zero();
    p = std::clamp(p, 0.0, 100.0);
    // Nearest rank: the smallest sample with at least p% of the samples at or below it.
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        seen += buckets_[i];
        if (seen >= rank) return std::chrono::nanoseconds(std::min(upper_bound_of(i), max_));
    }
    return max();
}

std::string Latencies::summary() const {
    char text[160];
    std::snprintf(text, sizeof text, "n=%zu p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms", count(),
                  to_ms(percentile(50)), to_ms(percentile(90)), to_ms(percentile(99)), to_ms(max()));
    return text;
}

}  // namespace harness
