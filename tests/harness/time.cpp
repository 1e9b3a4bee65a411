// The time scale. Kept apart from the watchdog so that the unit tests, which run on every
// platform the library builds on, can share it.
#include "harness/time.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace harness {

double time_scale() {
    static const double scale = [] {
        const char* text = std::getenv("EVLOOP_TEST_TIME_SCALE");
        if (!text || !*text) return 1.0;
        char* end = nullptr;
        double v = std::strtod(text, &end);
        if (*end != '\0' || !(v > 0) || !std::isfinite(v)) return 1.0;
        return v;
    }();
    return scale;
}

milliseconds scaled(milliseconds bound) {
    return milliseconds(
        static_cast<std::int64_t>(std::ceil(static_cast<double>(bound.count()) * time_scale())));
}

double to_ms(Duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace harness
