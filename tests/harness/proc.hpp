// What the kernel says about a process, read from /proc/PID (proc(5)): for the cases' bounds on
// a server's CPU, memory and descriptors, and for the benchmark's cost columns. Each reader
// returns nothing (or '?') once the process, or the field, is gone.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>

namespace harness::proc {

// utime + stime of every thread of the process, in seconds (/proc/PID/stat fields 14 and 15).
std::optional<double> cpu_seconds(pid_t pid);

// Resident set size now (VmRSS), and its peak since the process started (VmHWM).
std::optional<std::size_t> rss_bytes(pid_t pid);
std::optional<std::size_t> peak_rss_bytes(pid_t pid);

// Entries in /proc/PID/fd: how many descriptors the process holds.
std::optional<int> fd_count(pid_t pid);

// The state letter (/proc/PID/stat field 3): 'R' running, 'S' sleeping, 'T' stopped, ...
char state(pid_t pid);

// Every thread is asleep ('S'): blocked in a call such as read, write or epoll_wait, and not
// running. False once the process is gone.
bool all_threads_asleep(pid_t pid);

}  // namespace harness::proc
