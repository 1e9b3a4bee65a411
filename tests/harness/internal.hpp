// Shared between the harness's own files only: the watchdog's registries of live
// servers and client sockets, and small syscall helpers.
#pragma once

#include <sys/types.h>

#include <string>

#include "harness/time.hpp"

namespace harness::internal {

// The watchdog SIGKILLs every registered server and shuts down every registered socket.
// A server is unregistered before it is reaped, so its pid is never reused under us.
void register_pid(pid_t pid);
void unregister_pid(pid_t pid);
void register_socket(int fd);
// Unregisters and closes under the registry's lock, so the watchdog never shuts down a
// descriptor number that has already been reused.
void close_socket(int fd);

// Throws Failure("watchdog: case exceeded N s") once the watchdog has fired.
void check_watchdog();
std::string watchdog_message();

// The current case's deadline, if a case is running.
bool case_deadline(Clock::time_point* at);

// poll() one descriptor until `events` or the deadline; EINTR retried. Returns revents,
// 0 on timeout. Throws when the watchdog fires.
short wait_fd(int fd, short events, const Deadline& deadline);

std::string errno_name(int err);  // "ECONNRESET (Connection reset by peer)"

}  // namespace harness::internal
