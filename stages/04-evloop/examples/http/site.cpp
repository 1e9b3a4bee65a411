#include "site.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#include "request.hpp"

namespace http {
namespace {

int status_of(int error) {
    switch (error) {
        case ENOENT:
        case ENOTDIR:
            return 404;
        case EACCES:
        case EPERM:
        case EXDEV:  // openat2 with RESOLVE_BENEATH: the path leads out of the root
        case ELOOP:
        case ENXIO:  // a socket or a device without a driver
            return 403;
        case ENAMETOOLONG:
            return 414;
        case EMFILE:
        case ENFILE:
        case ENOMEM:
            return 503;
        default:
            return 500;
    }
}

}  // namespace

// ANCHOR: decode-target
int decode_target(std::string_view target, std::string* path, std::string_view* raw,
                  std::string_view* query) {
    if (target.front() != '/') {
        // absolute-form, which a server must accept too (RFC 9112 section 3.2.2): the
        // scheme and authority are dropped, since this server has one site.
        auto scheme = target.find("://");
        if (scheme == std::string_view::npos ||
            !(iequals(target.substr(0, scheme), "http") || iequals(target.substr(0, scheme), "https")))
            return 400;
        auto slash = target.find_first_of("/?", scheme + 3);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        if (target.front() == '?') return 400;
    }
    auto mark = target.find('?');
    *raw = target.substr(0, mark);
    *query = mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
    path->clear();
    for (std::size_t i = 0; i < raw->size(); ++i) {
        char c = (*raw)[i];
        if (c == '%') {
            int hi = i + 2 < raw->size() ? hex_value((*raw)[i + 1]) : -1,
                lo = hi >= 0 ? hex_value((*raw)[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0)) return 400;  // a bad escape, or a NUL no file name holds
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        path->push_back(c);
    }
    // Segments are checked after decoding, so "%2e%2e" and "..%2f" are caught like "..".
    for (std::size_t start = 0; start < path->size();) {
        auto end = path->find('/', start);
        if (end == std::string::npos) end = path->size();
        if (end - start == 2 && path->compare(start, 2, "..") == 0) return 403;
        start = end + 1;
    }
    return 0;
}
// ANCHOR_END: decode-target

bool Site::open(const std::string& dir, std::string* error) {
    root_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    char real[PATH_MAX];
    if (!root_ || ::realpath(dir.c_str(), real) == nullptr) {
        *error = "cannot open " + dir + " as a folder: " + std::strerror(errno);
        return false;
    }
    real_root_ = real;
    return true;
}

// ANCHOR: open-beneath
int Site::open_beneath(const std::string& relative) const {
    // O_NONBLOCK: opening a FIFO would otherwise block the whole loop until a writer came.
    constexpr int kFlags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
#if defined(__linux__)
    // openat2(2) makes the kernel refuse, while it resolves the path, any step that leaves
    // the root: "..", an absolute symlink, a relative one that climbs out. No window
    // between a check and the open for a symlink to be swapped in.
    static std::atomic<bool> have_openat2{true};
    if (have_openat2.load(std::memory_order_relaxed)) {
        open_how how{};
        how.flags = kFlags;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = ::syscall(SYS_openat2, root_.get(), relative.c_str(), &how, sizeof how);
        if (fd >= 0) return static_cast<int>(fd);
        if (errno != ENOSYS) return -errno;
        have_openat2.store(false, std::memory_order_relaxed);  // a kernel before 5.6
    }
#endif
    // Elsewhere: open, then ask where the path really led. A symlink swapped in between
    // the two calls could still win that race; openat2 is the real fix.
    int fd = ::openat(root_.get(), relative.c_str(), kFlags);
    if (fd < 0) return -errno;
    char real[PATH_MAX];
    std::string full = real_root_ + "/" + relative;
    if (::realpath(full.c_str(), real) == nullptr ||
        !(std::string_view(real) == real_root_ ||
          (std::string_view(real).substr(0, real_root_.size()) == real_root_ &&
           real[real_root_.size()] == '/'))) {
        ::close(fd);
        return -EXDEV;
    }
    return fd;
}
// ANCHOR_END: open-beneath

Lookup Site::open_file(const std::string& relative, std::string_view type_of) const {
    Lookup found;
    int fd = open_beneath(relative);
    if (fd < 0) {
        found.status = status_of(-fd);
        return found;
    }
    found.file.fd.reset(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        found.status = 500;
        return found;
    }
    found.file.size = static_cast<std::uint64_t>(st.st_size);
    found.file.modified = st.st_mtime;
    found.file.type = content_type(type_of);
    found.status = S_ISREG(st.st_mode) ? 200 : S_ISDIR(st.st_mode) ? 301 : 403;
    return found;
}

Lookup Site::find(const std::string& path) const {
    auto first = path.find_first_not_of('/');
    std::string relative = first == std::string::npos ? "." : path.substr(first);
    Lookup found = open_file(relative, path);
    if (found.status == 301 && path.back() == '/') {
        // A folder named with its slash is served by its index.html, or refused as nginx
        // does when it lists no folders.
        found = open_file(relative + "/index.html", "index.html");
        if (found.status == 404 || found.status == 301) found.status = 403;
    }
    if (found.status != 200) found.file = File{};
    return found;
}

}  // namespace http
