// Latency percentiles in constant memory, for the cases' latency bounds and the benchmark's
// reports alike.
//
// A histogram, not a list of samples: values below 128 ns get a bucket each; above that every
// power of two is split into 64 buckets, so a percentile is reported at most 1/64 (1.6%) above
// the true value and never below it, whatever the range. Recording is an index computation and
// an increment, cheap enough to run on every echoed message without disturbing what is measured.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/time.hpp"

namespace harness {

class Latencies {
public:
    Latencies();
    void add(Duration d);
    void merge(const Latencies& other);
    std::size_t count() const { return static_cast<std::size_t>(count_); }
    // p in [0, 100]: the upper bound of the smallest bucket that at least p% of the samples
    // do not exceed, capped at the largest sample. Zero when empty.
    Duration percentile(double p) const;
    Duration max() const { return std::chrono::nanoseconds(max_); }  // exact
    // "n=10000 p50=0.12ms p90=0.30ms p99=1.80ms max=4.10ms"
    std::string summary() const;

private:
    std::vector<std::uint64_t> buckets_;
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;  // nanoseconds
};

}  // namespace harness
