// Addresses for the cases: unix socket paths of their own, and a port free on both stacks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace harness {

// "/tmp/evloop-<pid>-<tag>.sock": a path no other run of the suite and no other case uses.
std::string unix_socket_path(const std::string& tag);

// A path of exactly `length` bytes under /tmp, of our own, padded with `fill` (for the limits
// of sun_path, unix(7)).
std::string unix_socket_path_of_length(std::size_t length, char fill);

// Anything at all at `path`, a dangling symlink included (lstat(2)).
bool path_exists(const std::string& path);

// A TCP port that is free on both :: and 0.0.0.0 right now (a dual-stack socket bound to
// port 0 claims it on both, then lets it go).
std::uint16_t free_dual_stack_port();

}  // namespace harness
