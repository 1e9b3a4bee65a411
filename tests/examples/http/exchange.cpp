#include "exchange.hpp"

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace httptest {

namespace fs = std::filesystem;

TempRoot::TempRoot() {
    std::string pattern = (fs::temp_directory_path() / "evloop-http-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempRoot::~TempRoot() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

void TempRoot::folder(std::string_view relative) {
    fs::create_directories(at(relative));
}

void TempRoot::file(std::string_view relative, std::string_view content, std::time_t modified) {
    fs::path p = at(relative);
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(content.data(), static_cast<long>(content.size()));
    timeval times[2] = {{modified, 0}, {modified, 0}};
    if (::utimes(p.c_str(), times) != 0) throw std::runtime_error("utimes failed on " + p.string());
}

namespace {

std::uint64_t pattern_word(std::uint64_t seed, std::uint64_t word) {
    std::uint64_t x = (seed * 0x9E3779B97F4A7C15ull) ^ (word + 1) * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    return x;
}

}  // namespace

std::uint8_t pattern_byte(std::uint64_t seed, std::uint64_t i) {
    return static_cast<std::uint8_t>(pattern_word(seed, i / 8) >> (8 * (i % 8)));
}

void TempRoot::pattern_file(std::string_view relative, std::uint64_t size, std::uint64_t seed) {
    fs::path p = at(relative);
    fs::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    std::string block(1 << 20, '\0');  // a multiple of 8: words never straddle two blocks
    for (std::uint64_t done = 0; done < size;) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - done));
        for (std::size_t i = 0; i < n; i += 8) {
            std::uint64_t w = pattern_word(seed, (done + i) / 8);
            for (std::size_t b = 0; b < 8 && i + b < n; ++b)
                block[i + b] = static_cast<char>(w >> (8 * b));
        }
        f.write(block.data(), static_cast<long>(n));
        done += n;
    }
}

void TempRoot::sparse_file(std::string_view relative, std::uint64_t size) {
    fs::path p = at(relative);
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc).close();
    fs::resize_file(p, size);
}

void TempRoot::symlink(std::string_view relative, const std::string& target) {
    fs::create_symlink(target, at(relative));
}

Rig::Rig(const std::string& root, std::size_t chunk) {
    std::string error;
    if (!site.open(root, &error)) throw std::runtime_error(error);
    config.site = &site;
    config.clock = &clock;
    config.chunk = chunk;
}

Transcript converse(const http::Config& config, std::string_view input, const std::vector<std::size_t>& cuts,
                    std::size_t budget) {
    http::Session session(config);
    Transcript t;
    std::string kept;  // what the library would hold for the session between events
    auto event = [&](std::string_view piece) {
        kept += piece;
        for (;;) {
            std::string out;
            auto r = session.on_input(kept, out, budget);
            t.out += out;
            t.writes += !out.empty();
            kept.erase(0, r.consumed);
            if (r.close) return void(t.closed = true);
            if (!r.stalled) return;
            while (session.body_pending()) {  // each drained event
                out.clear();
                bool ok = session.pump(out, config.chunk);
                t.out += out;
                t.writes += !out.empty();
                if (!ok) return void(t.closed = true);
            }
            if (session.close_after_body()) return void(t.closed = true);
            // the wake: the kept requests get their data event
        }
    };
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        if (t.closed) break;
        if (cut <= from || cut >= input.size()) continue;
        event(input.substr(from, cut - from));
        from = cut;
    }
    if (!t.closed) event(input.substr(from));
    t.kept = kept.size();
    return t;
}

std::string split_replies(std::string_view s, const std::function<bool(std::size_t)>& to_head,
                          std::vector<Reply>* out) {
    while (!s.empty()) {
        auto end = s.find("\r\n\r\n");
        if (end == std::string_view::npos) return "a reply head without its blank line";
        Reply r;
        r.head = std::string(s.substr(0, end + 4));
        std::string_view head(r.head);
        if (head.substr(0, 9) != "HTTP/1.1 " || head.size() < 12) return "a reply without a status line";
        r.status = std::atoi(std::string(head.substr(9, 3)).c_str());
        for (auto line_end = head.find("\r\n"); line_end + 4 < head.size();) {
            auto next = head.find("\r\n", line_end + 2);
            auto line = head.substr(line_end + 2, next - line_end - 2);
            auto colon = line.find(": ");
            if (colon == std::string_view::npos) return "a field line without ': '";
            std::string name(line.substr(0, colon));
            for (auto& c : name)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.fields[name] = std::string(line.substr(colon + 2));
            line_end = next;
        }
        s.remove_prefix(end + 4);
        bool bodiless = to_head(out->size()) || r.status == 304;
        if (!bodiless) {
            auto length = r.fields.find("content-length");
            if (length == r.fields.end()) return "a reply with a body and no Content-Length";
            auto n = std::stoull(length->second);
            if (n > s.size())
                return "a reply cut short: " + std::to_string(s.size()) + " of " + length->second;
            r.body = std::string(s.substr(0, n));
            s.remove_prefix(n);
        }
        out->push_back(std::move(r));
    }
    return "";
}

std::string split_replies(std::string_view stream, std::vector<Reply>* out) {
    return split_replies(
        stream, [](std::size_t) { return false; }, out);
}

std::string mask_dates(std::string_view stream) {
    std::string s(stream);
    for (auto at = s.find("\r\nDate: "); at != std::string::npos; at = s.find("\r\nDate: ", at + 1))
        if (at + 8 + http::kDateLength <= s.size())
            s.replace(at + 8, http::kDateLength, http::kDateLength, '-');
    return s;
}

}  // namespace httptest
