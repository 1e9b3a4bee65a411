// From a request target to an open file: decoding, the ".." rule, symlinks, folders, types.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "exchange.hpp"
#include "site.hpp"

namespace {

struct Decoded {
    int status = 0;
    std::string path;
    std::string raw, query;
};

Decoded decode(std::string_view target) {
    Decoded d;
    std::string_view raw, query;
    d.status = http::decode_target(target, &d.path, &raw, &query);
    d.raw = raw;
    d.query = query;
    return d;
}

}  // namespace

TEST_CASE("target: percent escapes are decoded and the query is set apart") {
    auto d = decode("/a%20b/%E2%82%AC.txt?x=%20&y");
    CHECK(d.status == 0);
    CHECK(d.path == "/a b/\xE2\x82\xAC.txt");
    CHECK(d.raw == "/a%20b/%E2%82%AC.txt");
    CHECK(d.query == "x=%20&y");
    CHECK(decode("/%2f%2F").path == "///");
}

TEST_CASE("target: bad escapes and an encoded NUL are 400") {
    for (std::string_view bad : {"/%", "/%2", "/%zz", "/%2g", "/a%00b"})
        CHECK_MESSAGE(decode(bad).status == 400, std::string(bad));
}

TEST_CASE("target: a dot-dot segment is 403 however it is written") {
    for (std::string_view bad : {"/..", "/../etc/passwd", "/a/../b", "/a/..", "/%2e%2e/x", "/%2E.",
                                 "/..%2fetc", "/a%2f..%2fb", "/.%2e"})
        CHECK_MESSAGE(decode(bad).status == 403, std::string(bad));
    for (std::string_view fine : {"/...", "/..a", "/a..", "/.hidden", "/./a"})
        CHECK_MESSAGE(decode(fine).status == 0, std::string(fine));
}

TEST_CASE("target: the absolute form is served by its path and other forms are 400") {
    auto d = decode("http://example.com:8080/a/b?c");
    CHECK(d.status == 0);
    CHECK(d.path == "/a/b");
    CHECK(d.query == "c");
    CHECK(decode("HTTP://example.com").path == "/");
    CHECK(decode("*").status == 400);
    CHECK(decode("example.com:443").status == 400);
    CHECK(decode("ftp://example.com/a").status == 400);
    CHECK(decode("http://example.com?q").status == 400);
}

TEST_CASE("site: files are found with their size time and type") {
    httptest::TempRoot root;
    root.file("index.html", "<p>hi</p>", 1234567890);
    root.file("docs/a.CSS", "p{}");
    root.file("data.bin", "x");
    root.file("noext", "x");
    http::Site site;
    std::string error;
    REQUIRE(site.open(root.path(), &error));
    auto found = site.find("/index.html");
    CHECK(found.status == 200);
    CHECK(found.file.size == 9);
    CHECK(found.file.modified == 1234567890);
    CHECK(found.file.type == "text/html; charset=utf-8");
    CHECK(site.find("/docs/a.CSS").file.type == "text/css; charset=utf-8");
    CHECK(site.find("/data.bin").file.type == "application/octet-stream");
    CHECK(site.find("/noext").file.type == "application/octet-stream");
    CHECK(site.find("/missing").status == 404);
    CHECK(site.find("/index.html/x").status == 404);  // ENOTDIR
    CHECK(http::content_type("/a/.profile") == "application/octet-stream");
    CHECK(http::content_type("/a.tar.gz") == "application/gzip");
}

TEST_CASE("site: folders redirect without their slash and serve index.html with it") {
    httptest::TempRoot root;
    root.file("with/index.html", "index");
    root.folder("without");
    http::Site site;
    std::string error;
    REQUIRE(site.open(root.path(), &error));
    CHECK(site.find("/with").status == 301);
    auto found = site.find("/with/");
    CHECK(found.status == 200);
    CHECK(found.file.size == 5);
    CHECK(found.file.type == "text/html; charset=utf-8");
    CHECK(site.find("/without/").status == 403);
    CHECK(site.find("/").status == 403);
    CHECK(site.find("//with//").status == 200);
}

TEST_CASE("site: symlinks that stay inside are followed and those that lead out are 403") {
    httptest::TempRoot outside;
    outside.file("secret.txt", "secret");
    httptest::TempRoot root;
    root.file("public/page.txt", "page");
    root.symlink("inside", "public/page.txt");
    root.symlink("public/up", "../public/page.txt");
    root.symlink("absolute-out", outside.at("secret.txt"));
    root.symlink("relative-out",
                 "../" + outside.path().substr(outside.path().rfind('/') + 1) + "/secret.txt");
    root.symlink("folder-out", outside.path());
    root.symlink("etc", "/etc");
    http::Site site;
    std::string error;
    REQUIRE(site.open(root.path(), &error));
    CHECK(site.find("/inside").status == 200);
    CHECK(site.find("/public/up").status == 200);
    CHECK(site.find("/absolute-out").status == 403);
    CHECK(site.find("/relative-out").status == 403);
    CHECK(site.find("/folder-out/secret.txt").status == 403);
    CHECK(site.find("/etc/passwd").status == 403);
}

TEST_CASE("site: a FIFO is refused at once instead of blocking the loop") {
    httptest::TempRoot root;
    REQUIRE(::mkfifo(root.at("pipe").c_str(), 0644) == 0);
    http::Site site;
    std::string error;
    REQUIRE(site.open(root.path(), &error));
    auto start = std::chrono::steady_clock::now();
    CHECK(site.find("/pipe").status == 403);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("site: an unreadable file is 403") {
    httptest::TempRoot root;
    root.file("locked", "x");
    root.file("open", "x");
    REQUIRE(::chmod(root.path().c_str(), 0755) == 0);
    REQUIRE(::chmod(root.at("locked").c_str(), 0) == 0);
    // Root reads every file, so the lookups run in a child that has become nobody.
    auto lookups = [&] {
        http::Site site;
        std::string error;
        if (!site.open(root.path(), &error)) return 1;
        return site.find("/locked").status == 403 && site.find("/open").status == 200 ? 0 : 2;
    };
    if (::geteuid() != 0) {
        CHECK(lookups() == 0);
        return;
    }
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) _exit(::setgid(65534) == 0 && ::setuid(65534) == 0 ? lookups() : 3);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("site: a root that is not a folder is refused with the reason") {
    httptest::TempRoot root;
    root.file("file", "x");
    http::Site site;
    std::string error;
    CHECK_FALSE(site.open(root.at("file"), &error));
    CHECK(error.find("Not a directory") != std::string::npos);
    CHECK_FALSE(site.open(root.at("missing"), &error));
    CHECK(error.find("No such file") != std::string::npos);
}
