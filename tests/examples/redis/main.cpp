// main() of redis-tests. The cases that run stage04-redis run the one this build made, or
// $STAGE04_REDIS when set (to test another build of it).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "support.hpp"

namespace redis_test {

std::string stage04_path() {
    const char* override_path = std::getenv("STAGE04_REDIS");
    return override_path && *override_path ? override_path : STAGE04_REDIS_PATH;
}

}  // namespace redis_test

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    return context.run();
}
