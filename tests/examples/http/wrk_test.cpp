// A short wrk run: many connections, keep-alive, every response checked to be a 200 with
// the whole body.
#include <doctest/doctest.h>

#include <string>

#include "client.hpp"

TEST_CASE("wrk: a one second run over 20 connections gets only whole 200s") {
    std::string wrk = httptest::find_program("wrk");
    if (wrk.empty()) return httptest::report_skipped("wrk", "wrk");
    httptest::TempRoot root;
    root.file("index.html", std::string(600, 'x'));
    auto server = httptest::start_http(root.path());
    std::string url =
        "http://" + server->address().host + ":" + std::to_string(server->address().port) + "/index.html";
    auto r = harness::run_to_exit(wrk, {"-t1", "-c20", "-d1s", "-s", WRK_CHECK_SCRIPT, url, "--", "600"},
                                  httptest::bound(std::chrono::milliseconds(20000)));
    INFO(r.out << r.err);
    REQUIRE(r.status.clean());
    // wrk prints these lines only when something went wrong.
    CHECK(r.out.find("Non-2xx or 3xx responses") == std::string::npos);
    CHECK(r.out.find("Socket errors") == std::string::npos);
    auto at = r.out.find("checked ");
    REQUIRE(at != std::string::npos);
    long checked = 0, bad = -1;
    REQUIRE(std::sscanf(r.out.c_str() + at, "checked %ld bad %ld", &checked, &bad) == 2);
    CHECK(checked > 1000);
    CHECK(bad == 0);
    CHECK(server->alive());
}
