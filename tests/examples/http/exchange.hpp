// What the HTTP tests and the fuzz target share, none of it tied to a test framework: a
// document root in a temporary folder, a stopped clock, a driver that feeds a Session the
// way the server does, and a reader that splits a stream of replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dates.hpp"
#include "session.hpp"

namespace httptest {

// A fresh folder under $TMPDIR, removed with everything in it on destruction.
class TempRoot {
public:
    TempRoot();
    ~TempRoot();
    TempRoot(const TempRoot&) = delete;
    TempRoot& operator=(const TempRoot&) = delete;

    const std::string& path() const { return path_; }
    std::string at(std::string_view relative) const { return path_ + "/" + std::string(relative); }
    // Creates the file (and its folders) holding `content`, with this modification time.
    void file(std::string_view relative, std::string_view content, std::time_t modified = 1000000000);
    // A file of `size` bytes: byte i is pattern_byte(seed, i); sparse-free, written in blocks.
    void pattern_file(std::string_view relative, std::uint64_t size, std::uint64_t seed);
    void folder(std::string_view relative);
    // A file of `size` zero bytes that takes no disk space (a hole, ftruncate(2)).
    void sparse_file(std::string_view relative, std::uint64_t size);
    void symlink(std::string_view relative, const std::string& target);

private:
    std::string path_;
};

// The bytes of a pattern file: a hash of (seed, position), so a byte out of place shows.
std::uint8_t pattern_byte(std::uint64_t seed, std::uint64_t i);

// Always the same second.
class FixedClock : public http::Clock {
public:
    explicit FixedClock(std::time_t t = 1700000000) : t_(t) {}
    std::time_t now() const override { return t_; }

private:
    std::time_t t_;
};

// A session with a Site over `root`, as the server configures one (chunk as given).
struct Rig {
    explicit Rig(const std::string& root, std::size_t chunk = 64 << 10);
    http::Site site;
    FixedClock clock;
    http::Config config;
};

struct Transcript {
    std::string out;         // every byte the session wrote, in order
    bool closed = false;     // it asked to close (or a body could not be read to its end)
    std::size_t kept = 0;    // input left unconsumed at the end
    std::size_t writes = 0;  // how many writes the server would have made
};

// Feeds `input` to a fresh session in pieces cut at `cuts` (ascending offsets), the way
// server.cpp does: unconsumed bytes come back in front of the next piece, and a stall is
// resolved (the body pumped, the kept requests woken) before the next piece arrives.
Transcript converse(const http::Config& config, std::string_view input,
                    const std::vector<std::size_t>& cuts = {}, std::size_t budget = 256 << 10);

struct Reply {
    int status = 0;
    std::string head;                           // status line and fields, CRLFs included
    std::map<std::string, std::string> fields;  // names lowercased
    std::string body;
};

// Splits a stream of replies. `to_head(i)` says whether reply i answers a HEAD (no body
// whatever its Content-Length). Returns "" or what is wrong with the stream.
std::string split_replies(std::string_view stream, const std::function<bool(std::size_t)>& to_head,
                          std::vector<Reply>* out);
// The same, for a stream that answers no HEAD.
std::string split_replies(std::string_view stream, std::vector<Reply>* out);

// The stream with every Date value replaced by a fixed one, for comparing replies made at
// different moments.
std::string mask_dates(std::string_view stream);

}  // namespace httptest
