// Fuzzes stage04-http's session: the parser, the body reader and the pipeline together,
// over a real document root. Each input is used twice.
//
// As raw bytes: fed to a session whole, then again cut at points drawn from the input.
// Both runs must write the same bytes, close alike and keep the same number of bytes:
// where the reads happen to split a stream must never change what the server says.
//
// As a program: the bytes choose N well-formed, persistent requests (methods, targets,
// header spellings, line endings, Content-Length and chunked bodies, files large enough to
// be sent in chunks), and the cut points. The desync check: exactly N replies come back,
// each one complete, the connection stays open, and nothing is left over.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "exchange.hpp"

namespace {

void require(bool ok, const char* what, const std::string& input) {
    if (ok) return;
    std::fprintf(stderr, "http fuzz finding: %s\ninput (%zu bytes): '%s'\n", what, input.size(),
                 input.c_str());
    std::abort();
}

httptest::Rig& rig() {
    static httptest::TempRoot root;
    static std::unique_ptr<httptest::Rig> rig = [] {
        root.file("a.txt", "alpha\n");
        root.file("dir/index.html", "<p>dir</p>\n");
        root.pattern_file("big.bin", 10000, 3);  // over the 4 KiB chunk: sent as output drains
        return std::make_unique<httptest::Rig>(root.path(), 4096);
    }();
    return *rig;
}

// Reads choices from the input; past its end every choice is 0.
struct Choices {
    const std::uint8_t* p;
    std::size_t left;
    unsigned next(unsigned n) {
        if (left == 0) return 0;
        --left;
        return *p++ % n;
    }
};

std::vector<std::size_t> cuts(Choices& c, std::size_t size) {
    std::vector<std::size_t> out;
    std::size_t at = 0;
    for (unsigned n = c.next(8); n-- > 0 && size > 1;) {
        at += 1 + c.next(256) * (c.next(2) ? 1 : 37);
        if (at >= size) break;
        out.push_back(at);
    }
    return out;
}

std::string request(Choices& c, bool* is_head) {
    static const char* kMethods[] = {"GET", "HEAD", "POST", "DELETE", "BREW"};
    static const char* kTargets[] = {"/a.txt",         "/big.bin",   "/dir",      "/dir/",
                                     "/missing",       "/%61.txt",   "/../a.txt", "/dir/%2e%2e/a.txt",
                                     "http://h/a.txt", "/a.txt?q=1", "/"};
    std::string eol = c.next(4) == 0 ? "\n" : "\r\n";
    const char* method = kMethods[c.next(5)];
    *is_head = std::string_view(method) == "HEAD";
    bool old = c.next(4) == 0;  // HTTP/1.0, kept open by asking
    std::string r = c.next(8) == 0 ? eol : "";
    r += std::string(method) + " " + kTargets[c.next(11)] + (old ? " HTTP/1.0" : " HTTP/1.1") + eol;
    r += std::string(c.next(2) ? "Host:" : "hOsT:") + (c.next(2) ? " h" : "\th \t") + eol;
    if (old) r += "Connection: keep-alive" + eol;
    if (c.next(3) == 0) r += "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT" + eol;
    for (unsigned n = c.next(3); n-- > 0;)
        r += "X-Filler-" + std::to_string(n) + ": " + std::string(c.next(200), 'f') + eol;
    unsigned body = old ? c.next(2) : c.next(3);  // no chunked in 1.0
    if (body == 1) {
        std::size_t n = c.next(100);
        r += "Content-Length: " + std::to_string(n) + eol + eol + std::string(n, 'b');
    } else if (body == 2) {
        r += "Transfer-Encoding: chunked" + eol + eol;
        for (unsigned k = c.next(4); k-- > 0;) {
            std::size_t n = 1 + c.next(40);
            char size[20];
            std::snprintf(size, sizeof size, "%zx", n);
            r += std::string(size) + (c.next(3) == 0 ? ";ext=1" : "") + eol + std::string(n, 'c') + eol;
        }
        r += "0" + eol + (c.next(3) == 0 ? "Trailer-Field: t" + eol : "") + eol;
    } else {
        r += eol;
    }
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const http::Config& config = rig().config;
    std::string raw(reinterpret_cast<const char*>(data), size);
    {
        Choices c{data, size};
        auto whole = httptest::converse(config, raw);
        auto split = httptest::converse(config, raw, cuts(c, size), 1 + c.next(256) * 64);
        require(whole.out == split.out, "the split input got different replies", raw);
        require(whole.closed == split.closed, "the split input closed differently", raw);
        // Once closed, what is left unread means nothing (the split run never even sees it).
        require(whole.closed || whole.kept == split.kept, "the split input kept a different amount", raw);
        require(whole.kept <= size, "kept more than it was given", raw);
    }
    Choices c{data, size};
    std::string pipeline;
    std::vector<bool> heads;
    for (unsigned n = 1 + c.next(12); n-- > 0;) {
        bool head = false;
        pipeline += request(c, &head);
        heads.push_back(head);
    }
    auto t = httptest::converse(config, pipeline, cuts(c, pipeline.size()), 1 + c.next(256) * 64);
    std::vector<httptest::Reply> replies;
    auto error = httptest::split_replies(
        t.out, [&](std::size_t i) { return i < heads.size() && heads[i]; }, &replies);
    require(error.empty(), ("the replies do not parse: " + error).c_str(), pipeline);
    require(replies.size() == heads.size(), "N requests did not get N replies", pipeline);
    require(!t.closed, "a persistent connection was closed", pipeline);
    require(t.kept == 0, "input was left over", pipeline);
    for (const auto& r : replies)
        require(r.status != 400 && r.status != 500, "a well-formed request was refused", pipeline);
    return 0;
}
