// The keyspace commands: DEL, EXISTS, TYPE, the EXPIRE family, TTL, PTTL, PERSIST, KEYS,
// DBSIZE, FLUSHALL and SELECT (one database, number 0).
#include <cstdint>
#include <string>
#include <vector>

#include "commands.hpp"
#include "glob.hpp"
#include "reply.hpp"

namespace redis {
namespace {

void cmd_del(Call& call) {
    std::int64_t deleted = 0;
    for (std::size_t i = 1; i < call.argv.size(); ++i)
        deleted += call.db.erase(call.argv[i]);
    reply::integer(call.out, deleted);
}

void cmd_exists(Call& call) {
    std::int64_t found = 0;
    for (std::size_t i = 1; i < call.argv.size(); ++i)
        found += call.db.find(call.argv[i]) != nullptr;
    reply::integer(call.out, found);
}

void cmd_type(Call& call) {
    reply::simple(call.out, call.db.find(call.argv[1]) ? "string" : "none");
}

// EXPIRE key n [NX|XX|GT|LT], and PEXPIRE, EXPIREAT, PEXPIREAT: the same with another
// unit or an absolute time. A time already past deletes the key (and still answers 1).
void expire_generic(Call& call, bool seconds, bool relative) {
    const auto& argv = call.argv;
    bool nx = false, xx = false, gt = false, lt = false;
    for (std::size_t j = 3; j < argv.size(); ++j) {
        if (iequals(argv[j], "nx")) {
            nx = true;
        } else if (iequals(argv[j], "xx")) {
            xx = true;
        } else if (iequals(argv[j], "gt")) {
            gt = true;
        } else if (iequals(argv[j], "lt")) {
            lt = true;
        } else {
            std::string_view opt = argv[j];
            return reply::error(call.out,
                                "ERR Unsupported option " + std::string(opt.substr(0, opt.find('\0'))));
        }
    }
    if (nx && (xx || gt || lt))
        return reply::error(call.out, "ERR NX and XX, GT or LT options at the same time are not compatible");
    if (gt && lt) return reply::error(call.out, "ERR GT and LT options at the same time are not compatible");

    auto n = integer_arg(call, 2);
    if (!n) return;
    std::int64_t when = *n, base = relative ? call.db.now() : 0;
    auto invalid = [&] {
        reply::error(call.out,
                     "ERR invalid expire time in '" + std::string(call.command->name) + "' command");
    };
    if (seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) return invalid();
        when *= 1000;
    }
    if (when > INT64_MAX - base) return invalid();
    when += base;

    Keyspace::Item* item = call.db.find(argv[1]);
    if (item == nullptr) return reply::integer(call.out, 0);
    std::int64_t current = item->second.expires_at;  // -1: none, which counts as forever
    if ((nx && current != -1) || (xx && current == -1) || (gt && (current == -1 || when <= current)) ||
        (lt && current != -1 && when >= current))
        return reply::integer(call.out, 0);
    if (when <= call.db.now()) {
        call.db.erase(*item);
    } else {
        call.db.set_expiry(*item, when);
    }
    reply::integer(call.out, 1);
}

void cmd_expire(Call& call) {
    expire_generic(call, true, true);
}
void cmd_pexpire(Call& call) {
    expire_generic(call, false, true);
}
void cmd_expireat(Call& call) {
    expire_generic(call, true, false);
}
void cmd_pexpireat(Call& call) {
    expire_generic(call, false, false);
}

void ttl_generic(Call& call, bool ms) {
    const Keyspace::Item* item = call.db.find(call.argv[1]);
    if (item == nullptr) return reply::integer(call.out, -2);
    std::int64_t at = item->second.expires_at;
    if (at < 0) return reply::integer(call.out, -1);
    std::int64_t left = std::max<std::int64_t>(0, at - call.db.now());
    reply::integer(call.out, ms ? left : (left + 500) / 1000);  // TTL rounds to the nearest second
}

void cmd_ttl(Call& call) {
    ttl_generic(call, false);
}
void cmd_pttl(Call& call) {
    ttl_generic(call, true);
}

void cmd_persist(Call& call) {
    Keyspace::Item* item = call.db.find(call.argv[1]);
    reply::integer(call.out, item && call.db.persist(*item));
}

// Redis answers KEYS in its hash table's order, which is random per process: clients
// must not rely on any order, and the differential test compares KEYS replies sorted.
void cmd_keys(Call& call) {
    std::string_view pattern = call.argv[1];
    std::vector<std::string_view> keys;
    call.db.each_live_key([&](const std::string& key) {
        if (pattern == "*" || glob_match(pattern, key)) keys.push_back(key);
    });
    reply::array(call.out, keys.size());
    for (auto key : keys)
        reply::bulk(call.out, key);
}

void cmd_dbsize(Call& call) {
    reply::integer(call.out, static_cast<std::int64_t>(call.db.size()));
}

void cmd_flushall(Call& call) {
    if (call.argv.size() > 2 ||
        (call.argv.size() == 2 && !iequals(call.argv[1], "sync") && !iequals(call.argv[1], "async")))
        return reply_syntax_error(call);
    call.db.clear();
    reply::ok(call.out);
}

void cmd_select(Call& call) {
    auto n = integer_arg(call, 1);
    if (!n) return;
    if (*n < INT32_MIN || *n > INT32_MAX)  // Redis's wording, "must between" and all
        return reply::error(call.out,
                            "ERR value is out of range, value must between -2147483648 and 2147483647");
    if (*n != 0) return reply::error(call.out, "ERR DB index is out of range");
    reply::ok(call.out);
}

const Command table[] = {
    {"del", -2, cmd_del, "write", 1, -1, 1},
    {"exists", -2, cmd_exists, "readonly fast", 1, -1, 1},
    {"type", 2, cmd_type, "readonly fast", 1, 1, 1},
    {"expire", -3, cmd_expire, "write fast", 1, 1, 1},
    {"pexpire", -3, cmd_pexpire, "write fast", 1, 1, 1},
    {"expireat", -3, cmd_expireat, "write fast", 1, 1, 1},
    {"pexpireat", -3, cmd_pexpireat, "write fast", 1, 1, 1},
    {"ttl", 2, cmd_ttl, "readonly fast", 1, 1, 1},
    {"pttl", 2, cmd_pttl, "readonly fast", 1, 1, 1},
    {"persist", 2, cmd_persist, "write fast", 1, 1, 1},
    {"keys", 2, cmd_keys, "readonly", 0, 0, 0},
    {"dbsize", 1, cmd_dbsize, "readonly fast", 0, 0, 0},
    {"flushall", -1, cmd_flushall, "write", 0, 0, 0},
    {"select", 2, cmd_select, "loading stale fast", 0, 0, 0},
};

}  // namespace

std::span<const Command> key_commands() {
    return table;
}

}  // namespace redis
