// The document root, and what a request target names in it.
//
// A target becomes a file in three steps: decode_target() turns it into a path (percent
// escapes decoded, a ".." segment refused whether it was sent as ".." or as "%2e%2e"),
// Site::find() opens that path beneath the root so that no symlink can lead out of it,
// and content_type() names what the file holds from its extension.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "common/fd.hpp"

namespace http {

// The path part of an origin-form ("/a%20b?q") or absolute-form ("http://host/a%20b?q")
// target, percent-decoded into *path (which starts with '/'); `raw` is that part as sent,
// `query` what follows the '?'. Returns 0, 400 (not a target a server can serve, a bad
// escape, an encoded NUL) or 403 (a ".." segment: the path would climb out of its folder).
int decode_target(std::string_view target, std::string* path, std::string_view* raw, std::string_view* query);

std::string_view content_type(std::string_view path);

struct File {
    common::Fd fd;
    std::uint64_t size = 0;
    std::time_t modified = 0;
    std::string_view type;  // Content-Type
};

struct Lookup {
    // 200 (file is open), 301 (a directory named without its trailing slash), 403 (out of
    // the root, not readable, not a regular file, a directory without index.html), 404,
    // 414 (too long a name), 500, or 503 (out of file descriptors: try again later).
    int status = 0;
    File file;
};

class Site {
public:
    // Opens the root folder; false, with the reason in *error, when it is not one.
    bool open(const std::string& dir, std::string* error);
    // `path` as decode_target() made it.
    Lookup find(const std::string& path) const;

private:
    int open_beneath(const std::string& relative) const;  // an fd, or -errno
    Lookup open_file(const std::string& relative, std::string_view type_of) const;

    common::Fd root_;
    std::string real_root_;  // the root's canonical path, for systems without openat2
};

}  // namespace http
