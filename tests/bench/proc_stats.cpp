#include "proc_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace bench {
namespace {

std::string proc_path(pid_t pid, const char* leaf) {
    return "/proc/" + std::to_string(pid) + "/" + leaf;
}

long status_field_kib(pid_t pid, const char* name) {
    std::ifstream in(proc_path(pid, "status"));
    std::string line;
    const std::size_t len = std::strlen(name);
    while (std::getline(in, line))
        if (line.compare(0, len, name) == 0 && line.size() > len && line[len] == ':')
            return std::strtol(line.c_str() + len + 1, nullptr, 10);  // "VmRSS:   1234 kB"
    return -1;
}

}  // namespace

double process_cpu_seconds(pid_t pid) {
    std::ifstream in(proc_path(pid, "stat"));
    std::string stat;
    if (!std::getline(in, stat)) return -1;
    // The command name (field 2) is in parentheses and may itself contain spaces or
    // ')', so fields are counted from the last ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream fields(stat.substr(close + 2));
    std::string skip;
    for (int field = 3; field < 14; ++field)
        fields >> skip;
    unsigned long long utime = 0, stime = 0;
    if (!(fields >> utime >> stime)) return -1;
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long process_rss_kib(pid_t pid) {
    return status_field_kib(pid, "VmRSS");
}
long process_peak_rss_kib(pid_t pid) {
    return status_field_kib(pid, "VmHWM");
}

long process_fd_count(pid_t pid) {
    DIR* dir = opendir(proc_path(pid, "fd").c_str());
    if (!dir) return -1;
    long count = 0;
    while (const dirent* entry = readdir(dir))
        if (entry->d_name[0] != '.') ++count;
    closedir(dir);
    return count;
}

}  // namespace bench
