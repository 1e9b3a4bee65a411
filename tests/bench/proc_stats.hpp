// What the kernel says about the server process, read from /proc/PID (proc(5)).
// Each reader returns -1 when the process or the field is gone.
#pragma once

#include <sys/types.h>

namespace bench {

// utime + stime of every thread of the process, in seconds (/proc/PID/stat fields 14 and 15).
double process_cpu_seconds(pid_t pid);

// Resident set size now (VmRSS) and its peak since the process started (VmHWM), in KiB.
long process_rss_kib(pid_t pid);
long process_peak_rss_kib(pid_t pid);

// Entries in /proc/PID/fd: how many descriptors the process holds.
long process_fd_count(pid_t pid);

}  // namespace bench
