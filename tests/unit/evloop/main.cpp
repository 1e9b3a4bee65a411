#define DOCTEST_CONFIG_IMPLEMENT
#include <csignal>

#include "doctest/doctest.h"

int main(int argc, char** argv) {
    // A test that writes to a connection the server has closed must see EPIPE, not die.
    std::signal(SIGPIPE, SIG_IGN);
    return doctest::Context(argc, argv).run();
}
