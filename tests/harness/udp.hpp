// A UDP client, for the multiaddr tier's datagram cases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/address.hpp"
#include "harness/time.hpp"

namespace harness {

// One socket of the server address's family, with 1 MiB buffers; closed on destruction.
class Udp {
public:
    explicit Udp(const common::Address& server);
    ~Udp();
    Udp(const Udp&) = delete;
    Udp& operator=(const Udp&) = delete;

    void send(const std::string& payload);  // one datagram; throws Failure unless all of it went
    // One datagram, read with MSG_TRUNC so that one longer than the buffer still shows its real
    // length; nothing by the deadline.
    std::optional<std::string> receive(Deadline deadline);

private:
    common::Address server_;
    int fd_ = -1;
};

// A `size`-byte datagram of Pattern(seed) must come back whole and unaltered. UDP may lose a
// datagram even on loopback: three tries, each bounded by 1 s (scaled).
void check_udp_echo(const common::Address& address, std::size_t size, std::uint64_t seed);

}  // namespace harness
