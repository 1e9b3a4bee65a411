#include "harness/proc.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace harness::proc {
namespace {

std::string path_of(pid_t pid, const char* leaf) {
    return "/proc/" + std::to_string(pid) + "/" + leaf;
}

std::optional<std::string> first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    return line;
}

// The fields after the command name: it is in parentheses and may itself contain spaces or
// ')', so they are counted from the last ')'. Field 3 (the state) comes first.
std::optional<std::string> stat_after_name(const std::string& path) {
    auto stat = first_line(path);
    if (!stat) return std::nullopt;
    auto paren = stat->rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat->size()) return std::nullopt;
    return stat->substr(paren + 2);
}

std::optional<std::size_t> status_kib(pid_t pid, const char* name) {
    std::ifstream in(path_of(pid, "status"));
    std::string line;
    const std::size_t len = std::strlen(name);
    while (std::getline(in, line))
        if (line.compare(0, len, name) == 0 && line.size() > len && line[len] == ':')  // "VmRSS:   1234 kB"
            return static_cast<std::size_t>(std::strtoull(line.c_str() + len + 1, nullptr, 10)) * 1024;
    return std::nullopt;
}

}  // namespace

std::optional<double> cpu_seconds(pid_t pid) {
    auto fields = stat_after_name(path_of(pid, "stat"));
    if (!fields) return std::nullopt;
    std::istringstream in(*fields);
    std::string skip;
    for (int field = 3; field < 14; ++field)
        in >> skip;
    unsigned long long utime = 0, stime = 0;
    if (!(in >> utime >> stime)) return std::nullopt;
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::optional<std::size_t> rss_bytes(pid_t pid) {
    return status_kib(pid, "VmRSS");
}

std::optional<std::size_t> peak_rss_bytes(pid_t pid) {
    return status_kib(pid, "VmHWM");
}

std::optional<int> fd_count(pid_t pid) {
    DIR* dir = ::opendir(path_of(pid, "fd").c_str());
    if (!dir) return std::nullopt;
    int count = 0;
    while (const dirent* e = ::readdir(dir))
        if (e->d_name[0] != '.') ++count;
    ::closedir(dir);
    return count;
}

char state(pid_t pid) {
    auto fields = stat_after_name(path_of(pid, "stat"));
    return fields ? (*fields)[0] : '?';
}

bool all_threads_asleep(pid_t pid) {
    std::string tasks = path_of(pid, "task");
    DIR* dir = ::opendir(tasks.c_str());
    if (!dir) return false;
    bool all = true, any = false;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        auto fields = stat_after_name(tasks + "/" + e->d_name + "/stat");
        if (!fields) continue;  // a thread that ended since readdir is not running either
        any = true;
        if ((*fields)[0] != 'S') all = false;
    }
    ::closedir(dir);
    return any && all;
}

}  // namespace harness::proc
