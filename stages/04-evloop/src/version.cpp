// The library's own version, compiled in, for programs to compare with the headers they use.
#include "evloop/version.hpp"

namespace evloop {

const char* version() noexcept {
    return EVLOOP_VERSION_STRING;
}

}  // namespace evloop
