// The keyspace (lazy and active expiry), its keyed hash, and the glob matcher of KEYS.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "glob.hpp"
#include "keyspace.hpp"
#include "siphash.hpp"

using redis::Keyspace;

TEST_CASE("store: the SipHash rounds match the published SipHash-2-4 test vector") {
    // Aumasson and Bernstein's vector: key 00..0f, message 00..0e (15 bytes).
    std::uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    std::string message;
    for (int i = 0; i < 15; ++i)
        message += static_cast<char>(i);
    CHECK(redis::SipHash<2, 4>(k0, k1)(message) == 0xa129ca6149be45e5ULL);
    CHECK(redis::SipHash13(k0, k1)("") != redis::SipHash13(k0 + 1, k1)(""));
}

TEST_CASE("store: a key past its expiry time is gone at the next lookup") {
    Keyspace db(1);
    db.set_now(1000);
    db.set_expiry(db.set("k", "v"), 1500);
    db.set_now(1500);
    CHECK(db.find("k") != nullptr);  // expires after its time, not at it
    db.set_now(1501);
    CHECK(db.find("k") == nullptr);
    CHECK(db.size() == 0);
    CHECK(db.expired_total() == 1);
}

TEST_CASE("store: SET clears an expiry unless it keeps it and PERSIST removes one") {
    Keyspace db(1);
    db.set_expiry(db.set("a", "1"), 100);
    db.set("a", "2");
    CHECK(db.find("a")->second.expires_at == -1);
    db.set_expiry(db.set("b", "1"), 100);
    db.set("b", "2", true);
    CHECK(db.find("b")->second.expires_at == 100);
    CHECK(db.persist(*db.find("b")));
    CHECK_FALSE(db.persist(*db.find("b")));
    CHECK(db.volatile_count() == 0);
}

TEST_CASE("store: the expire cycle reclaims expired keys nobody looks up and spares live ones") {
    Keyspace db(7);
    db.set_now(0);
    for (int i = 0; i < 10000; ++i)
        db.set_expiry(db.set("dead:" + std::to_string(i), "x"), 10);
    for (int i = 0; i < 100; ++i)
        db.set_expiry(db.set("live:" + std::to_string(i), "x"), 1'000'000);
    db.set("forever", "x");
    db.set_now(20);
    std::size_t reclaimed = 0;
    for (int round = 0; round < 200 && db.size() > 101; ++round)
        reclaimed += db.expire_cycle(std::chrono::milliseconds(50));
    CHECK(reclaimed == 10000);
    CHECK(db.size() == 101);
    CHECK(db.volatile_count() == 100);
    CHECK(db.find("live:42") != nullptr);
}

TEST_CASE("store: the expire cycle stops sampling once under a quarter of a sample is stale") {
    Keyspace db(3);
    db.set_now(0);
    for (int i = 0; i < 1000; ++i)
        db.set_expiry(db.set("live:" + std::to_string(i), "x"), 1'000'000);
    for (int i = 0; i < 100; ++i)
        db.set_expiry(db.set("dead:" + std::to_string(i), "x"), 1);
    db.set_now(10);
    // About 2 in a sample of 20 are stale: the cycle ends after a round or two, long before
    // its budget would let it find all 100.
    std::size_t reclaimed = db.expire_cycle(std::chrono::seconds(10));
    CHECK(reclaimed > 0);
    CHECK(reclaimed < 50);
}

TEST_CASE("store: the list of keys with an expiry stays exact through deletes and overwrites") {
    Keyspace db(5);
    db.set_now(0);
    for (int i = 0; i < 100; ++i)
        db.set_expiry(db.set(std::to_string(i), "x"), 50 + i);
    for (int i = 0; i < 100; i += 3)
        db.erase(std::to_string(i));
    for (int i = 1; i < 100; i += 3)
        db.set(std::to_string(i), "y");
    CHECK(db.volatile_count() == 33);
    db.set_now(1000);
    while (db.expire_cycle(std::chrono::milliseconds(50)) > 0) {
    }
    CHECK(db.volatile_count() == 0);
    CHECK(db.size() == 33);
}

TEST_CASE("store: glob patterns match as Redis's stringmatch does") {
    using redis::glob_match;
    CHECK(glob_match("*", ""));
    CHECK(glob_match("", ""));
    CHECK_FALSE(glob_match("", "a"));
    CHECK(glob_match("h?llo", "hello"));
    CHECK(glob_match("h*llo", "heeeello"));
    CHECK(glob_match("h[ae]llo", "hallo"));
    CHECK_FALSE(glob_match("h[^e]llo", "hello"));
    CHECK(glob_match("h[a-b]llo", "hbllo"));
    CHECK(glob_match("h[b-a]llo", "hbllo"));  // a reversed range is the same range
    CHECK(glob_match("h\\*llo", "h*llo"));
    CHECK_FALSE(glob_match("h\\*llo", "hello"));
    CHECK(glob_match("a[b", "ab"));  // an unterminated class runs to the end of the pattern
    CHECK_FALSE(glob_match("a[", "ab"));
    CHECK(glob_match("a[^", "ab"));
    CHECK(glob_match("[a-]", "]"));  // Redis reads "a-]" as a range up to ']'
    CHECK(glob_match("*a*b*c*", "xxaxxbxxcxx"));
    CHECK_FALSE(glob_match("*a*b*c*d", "xxaxxbxxcxx"));
    CHECK(glob_match("SAVE", "save", true));
    // Many stars against a long non-matching key: backtracking to the last star only.
    std::string key(10000, 'a');
    CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", key));
}
