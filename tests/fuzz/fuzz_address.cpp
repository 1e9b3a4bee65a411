// Fuzzes the address parser. Properties checked for every input:
//   - it never crashes, hangs or reads out of bounds (the sanitizers watch);
//   - an accepted address has no NUL, CR or LF, a port that came from the text, and a
//     socket address of the right family and length;
//   - the canonical URL of an accepted address parses again to the same address.
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/address.hpp"

namespace {

// assert() disappears under NDEBUG; a fuzz finding must not.
void require(bool ok, const char* what, std::string_view input) {
    if (ok) return;
    std::fprintf(stderr, "address fuzz finding: %s\ninput (%zu bytes): '%.*s'\n", what, input.size(),
                 static_cast<int>(input.size()), input.data());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string error;
    auto address = common::parse_address(text, &error);
    if (!address) {
        require(!error.empty(), "a rejection without a reason", text);
        return 0;
    }
    require(text.find_first_of(std::string_view("\0\r\n", 3)) == std::string_view::npos,
            "accepted a NUL, CR or LF", text);
    if (address->is_unix()) {
        require(address->family() == AF_UNIX, "unix address with another family", text);
        require(!address->path.empty() && address->path.size() < sizeof(sockaddr_un{}.sun_path),
                "unix path that does not fit sun_path", text);
    } else {
        require(address->family() == AF_INET || address->family() == AF_INET6, "inet address family", text);
        require(text.find(std::to_string(address->port)) != std::string_view::npos,
                "a port that is not in the text", text);
        std::uint16_t net_port = address->family() == AF_INET
                                     ? reinterpret_cast<const sockaddr_in*>(&address->storage)->sin_port
                                     : reinterpret_cast<const sockaddr_in6*>(&address->storage)->sin6_port;
        require(ntohs(net_port) == address->port, "sockaddr port differs from the parsed port", text);
    }
    auto again = common::parse_address(address->url(), &error);
    require(again.has_value(), "the canonical URL does not parse again", text);
    require(again->url() == address->url(), "the canonical URL is not stable", text);
    require(again->length == address->length &&
                std::memcmp(&again->storage, &address->storage, address->length) == 0,
            "the canonical URL parses to another socket address", text);
    require(again->reuseport == address->reuseport, "reuseport lost in the canonical URL", text);
    return 0;
}
