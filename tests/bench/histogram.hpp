// A latency histogram with bounded relative error and constant memory.
//
// Values below 128 ns get a bucket each; above that every power of two is split into
// 64 buckets, so a reported percentile is at most 1/64 (1.6%) above the true value,
// whatever the range. Recording is an index computation and an increment: cheap
// enough to run on every echoed message without disturbing what is measured.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace bench {

class Histogram {
public:
    void record(std::uint64_t ns) {
        ++buckets_[index(ns)];
        ++count_;
        max_ = std::max(max_, ns);
    }

    void merge(const Histogram& other) {
        for (std::size_t i = 0; i < buckets_.size(); ++i)
            buckets_[i] += other.buckets_[i];
        count_ += other.count_;
        max_ = std::max(max_, other.max_);
    }

    std::uint64_t count() const { return count_; }
    std::uint64_t max() const { return max_; }

    // The smallest bucket bound that at least q (0..1) of the values do not exceed.
    std::uint64_t percentile(double q) const {
        if (count_ == 0) return 0;
        auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets_.size(); ++i) {
            seen += buckets_[i];
            if (seen >= rank) return std::min(upper_bound(i), max_);
        }
        return max_;
    }

private:
    static constexpr int kSubBits = 6;  // 64 buckets per power of two

    static std::size_t index(std::uint64_t v) {
        if (v < (2u << kSubBits)) return static_cast<std::size_t>(v);
        int shift = std::bit_width(v) - 1 - kSubBits;  // keeps the top kSubBits+1 bits
        return static_cast<std::size_t>(shift) * (1u << kSubBits) + static_cast<std::size_t>(v >> shift);
    }

    static std::uint64_t upper_bound(std::size_t i) {
        if (i < (2u << kSubBits)) return i;
        std::size_t shift = i / (1u << kSubBits) - 1;
        std::uint64_t top = i - shift * (1u << kSubBits);
        return ((top + 1) << shift) - 1;
    }

    std::array<std::uint64_t, (64 - kSubBits) * (1u << kSubBits) + (2u << kSubBits)> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace bench
