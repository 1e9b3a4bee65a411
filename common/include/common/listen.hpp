// Creating listening sockets the way every stage wants them.
#pragma once

#include <string>

#include "common/address.hpp"
#include "common/fd.hpp"

namespace common {

struct ListenOptions {
    bool nonblocking = false;  // stages 02+ want SOCK_NONBLOCK on the listener
    bool v6only = false;       // set when a v4 listener shares the port
};

// socket + SO_REUSEADDR (+ SO_REUSEPORT when the URL asks) + bind + listen(SOMAXCONN)
// for stream addresses; socket + bind for datagram ones. Always close-on-exec.
// On failure returns an empty Fd and "cannot listen on URL: reason" in *error.
Fd listen_on(const Address& address, const ListenOptions& options, std::string* error);

}  // namespace common
