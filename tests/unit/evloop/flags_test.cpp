// The examples' command line: a duration the clock cannot hold is refused, not wrapped.
#include <chrono>

#include "doctest/doctest.h"
#include "examples/flags.hpp"

using examples::parse_duration;

TEST_CASE("durations are read exactly and one too large for the clock is refused") {
    evloop::Duration d{};
    CHECK(parse_duration("500ms", &d));
    CHECK(d == std::chrono::milliseconds(500));
    CHECK(parse_duration("30s", &d));
    CHECK(d == std::chrono::seconds(30));
    CHECK(parse_duration("2m", &d));
    CHECK(d == std::chrono::minutes(2));
    CHECK(parse_duration("0", &d));
    CHECK(d.count() == 0);
    // The largest whole number of seconds 64-bit nanoseconds hold, and the first beyond.
    CHECK(parse_duration("9223372036s", &d));
    CHECK(d == std::chrono::seconds(9223372036));
    CHECK_FALSE(parse_duration("9223372037s", &d));
    CHECK_FALSE(parse_duration("9999999999s", &d));   // once accepted, meaning "off"
    CHECK_FALSE(parse_duration("18446744074s", &d));  // once accepted, meaning 0.29 s
    CHECK_FALSE(parse_duration("99999999999999999999ms", &d));
    for (const char* bad : {"", "s", "5", "-1s", "1.5s", "5 s", "5sec", "0x10s", "1h"})
        CHECK_FALSE(parse_duration(bad, &d));
}
