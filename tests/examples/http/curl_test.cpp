// stage04-http as curl sees it: every status, connection reuse, HEAD, a 64 MiB download.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "client.hpp"

namespace {

using httptest::milliseconds;

struct Curl {
    Curl() {
        path = httptest::find_program("curl");
        if (path.empty()) {
            httptest::report_skipped("curl", "curl");
            return;
        }
        root.file("index.html", "<h1>home</h1>\n");
        root.file("a.txt", "alpha\n");
        root.file("dir/index.html", "dir\n");
        server = httptest::start_http(root.path());
        base = "http://" + server->address().host + ":" + std::to_string(server->address().port);
    }
    bool skipped() const { return path.empty(); }
    // Runs curl with these arguments; fails the test unless it exits 0.
    harness::RunResult run(std::vector<std::string> args) {
        args.insert(args.begin(), {"--silent", "--show-error", "--max-time", "20"});
        auto r = harness::run_to_exit(path, args, httptest::bound(milliseconds(30000)));
        CHECK_MESSAGE(r.status.clean(), "curl " << args.back() << ": " << r.status.describe() << "\n"
                                                << r.err);
        return r;
    }
    // The status curl reports for one request.
    int status(std::vector<std::string> args) {
        args.insert(args.begin(), {"--output", "/dev/null", "--write-out", "%{http_code}"});
        return std::atoi(run(args).out.c_str());
    }
    std::string path, base;
    httptest::TempRoot root;
    std::unique_ptr<harness::Server> server;
};

}  // namespace

TEST_CASE("curl: every status the server sends is the one curl reports") {
    Curl c;
    if (c.skipped()) return;
    c.root.sparse_file("upload.bin", 2 << 20);
    CHECK(c.status({c.base + "/a.txt"}) == 200);
    CHECK(c.status({c.base + "/dir"}) == 301);
    CHECK(c.status({"--header", "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT", c.base + "/a.txt"}) ==
          304);
    CHECK(c.status({"--header", "Host:", c.base + "/a.txt"}) == 400);  // curl drops the Host field
    CHECK(c.status({"--path-as-is", c.base + "/../etc/passwd"}) == 403);
    CHECK(c.status({c.base + "/%2e%2e/etc/passwd"}) == 403);
    CHECK(c.status({c.base + "/missing"}) == 404);
    CHECK(c.status({"--data", "x=1", c.base + "/a.txt"}) == 405);
    // Over 1 MiB curl asks "Expect: 100-continue" and gets the 413 instead of the go-ahead.
    CHECK(c.status({"--data-binary", "@" + c.root.at("upload.bin"), c.base + "/"}) == 413);
    CHECK(c.status({c.base + "/" + std::string(9000, 'a')}) == 414);
    CHECK(c.status({"--header", "X-Big: " + std::string(40000, 'b'), c.base + "/a.txt"}) == 431);
    CHECK(c.status({"--request", "BREW", c.base + "/pot"}) == 501);
    // 505 needs a request line curl will not write; the raw-socket test covers it.
}

TEST_CASE("curl: two URLs in one command share one connection") {
    Curl c;
    if (c.skipped()) return;
    auto r = c.run({"--verbose", "--write-out", "%{num_connects}\\n", "--output", "/dev/null", "--output",
                    "/dev/null", c.base + "/a.txt", c.base + "/index.html"});
    CHECK(r.out == "1\n0\n");  // the second transfer made no new connection
    CHECK(r.err.find("Re-using existing connection") != std::string::npos);
}

TEST_CASE("curl: HEAD gets the head and no body") {
    Curl c;
    if (c.skipped()) return;
    auto r = c.run({"--head", c.base + "/a.txt"});
    CHECK(r.out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(r.out.find("Content-Length: 6\r\n") != std::string::npos);
    CHECK(r.out.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
    CHECK(r.out.find("Last-Modified: Sun, 09 Sep 2001 01:46:40 GMT\r\n") != std::string::npos);
    CHECK(r.out.find("alpha") == std::string::npos);
}

TEST_CASE("curl: an HTTP/1.0 request is answered and its connection closed") {
    Curl c;
    if (c.skipped()) return;
    auto r = c.run({"--http1.0", "--verbose", c.base + "/a.txt"});
    CHECK(r.out == "alpha\n");
    CHECK(r.err.find("< Connection: close") != std::string::npos);
}

TEST_CASE("curl: a 64 MiB file downloads with the same hash as the file") {
    Curl c;
    if (c.skipped()) return;
    c.root.pattern_file("64m.bin", 64ull << 20, 5);
    std::string out = c.root.at("download.bin");
    c.run({"--output", out, c.base + "/64m.bin"});
    auto digest = [](const std::string& path) {
        std::ifstream f(path, std::ios::binary);
        std::uint64_t h = 0xcbf29ce484222325ull, n = 0;  // FNV-1a
        std::string block(1 << 20, '\0');
        while (f.read(block.data(), static_cast<long>(block.size())) || f.gcount() > 0) {
            for (long i = 0; i < f.gcount(); ++i)
                h = (h ^ static_cast<std::uint8_t>(block[static_cast<std::size_t>(i)])) * 0x100000001b3ull;
            n += static_cast<std::uint64_t>(f.gcount());
        }
        return std::make_pair(n, h);
    };
    auto want = digest(c.root.at("64m.bin"));
    CHECK(want.first == 64ull << 20);
    CHECK(digest(out) == want);
}
