// stage04-proxy's own tests (doctest), run by CTest one case at a time as
// "proxy/<area>: <case>". Each case starts the relay, and whatever stands behind it, itself.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "harness/harness.hpp"

int main(int argc, char** argv) {
    harness::init_process();  // SIGPIPE ignored, descriptors raised, the watchdog running
    doctest::Context context(argc, argv);
    return context.run();
}
