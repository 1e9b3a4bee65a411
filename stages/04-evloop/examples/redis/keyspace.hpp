// The keyspace: string keys to string values, each with an optional expiry time.
//
// Expiry works as in Redis, in two ways. Lazily: every lookup first checks the key's
// time and deletes it if it has passed, so no command ever sees an expired key. Actively:
// a key that nobody looks up again would otherwise stay in memory forever, so a periodic
// task (expire_cycle, run on the loop's tick) samples random keys among those with an
// expiry and deletes the expired ones, sampling again while a quarter or more of a sample
// was expired, within a time budget. To sample at random in O(1), the keys with an expiry
// are also listed in a vector (Redis keeps a second dictionary instead); each entry knows
// its slot in it, so removing one is a swap with the last.
//
// Time is a number of milliseconds since the Unix epoch that the caller sets (set_now) once
// per batch of requests, as Redis takes one time per command: tests set it by hand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "siphash.hpp"

namespace redis {

struct Entry {
    std::string value;
    std::int64_t expires_at = -1;  // Unix time in ms; -1: never
    std::size_t slot = 0;          // index in the volatile list, while expires_at != -1
};

class Keyspace {
    struct Hash {
        using is_transparent = void;  // lookups by std::string_view, no temporary std::string
        SipHash13 sip;
        std::size_t operator()(std::string_view s) const { return static_cast<std::size_t>(sip(s)); }
    };
    using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;

public:
    using Item = Map::value_type;  // the key and its entry; its address is stable

    // The hash key and the sampling order come from `seed` (tests) or random_device.
    Keyspace();
    explicit Keyspace(std::uint64_t seed);

    void set_now(std::int64_t unix_ms) { now_ = unix_ms; }
    std::int64_t now() const { return now_; }
    static std::int64_t wall_clock_ms();

    // The live item for `key`, or nullptr; an expired one is deleted first.
    Item* find(std::string_view key);
    // The live item for `key`, created with an empty value when missing.
    Item& find_or_add(std::string_view key);
    // SET: replaces the value; the key loses its expiry unless keep_ttl.
    Item& set(std::string_view key, std::string_view value, bool keep_ttl = false);
    bool erase(std::string_view key);
    void erase(Item& item);

    void set_expiry(Item& item, std::int64_t unix_ms);
    bool persist(Item& item);  // false when it had no expiry

    // KEYS walks every live key; expired ones are skipped, not deleted, as Redis does.
    template <typename F>
    void each_live_key(F&& f) const {
        for (const auto& item : map_)
            if (!expired(item.second)) f(item.first);
    }

    std::size_t size() const { return map_.size(); }  // DBSIZE: includes expired keys not yet reclaimed
    std::size_t volatile_count() const { return volatile_.size(); }
    std::uint64_t expired_total() const { return expired_total_; }
    void clear();

    // The active half of expiry; returns how many keys it deleted.
    std::size_t expire_cycle(std::chrono::microseconds budget);

private:
    bool expired(const Entry& e) const { return e.expires_at >= 0 && now_ > e.expires_at; }
    void forget_expiry(Entry& e);

    Map map_;
    std::vector<Item*> volatile_;  // every item with an expiry, in no order
    std::mt19937_64 random_;
    std::int64_t now_ = 0;
    std::uint64_t expired_total_ = 0;
};

}  // namespace redis
