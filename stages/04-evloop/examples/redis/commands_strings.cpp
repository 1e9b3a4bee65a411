// The string commands: SET and its options, GET, GETDEL, APPEND, STRLEN, the INCR family,
// MGET and MSET.
#include <cstdint>
#include <string>

#include "commands.hpp"
#include "reply.hpp"

namespace redis {
namespace {

void reply_value(Call& call, const Keyspace::Item* item) {
    if (item == nullptr) return reply::null(call.out);
    reply::bulk(call.out, item->second.value);
}

// SET's options, with Redis's rules for which may be combined: NX and XX exclude each
// other; at most one of EX, PX, EXAT, PXAT and KEEPTTL (a repeated EX is allowed: the
// last one wins); GET goes with anything. A word in the wrong place is a syntax error.
constexpr unsigned nx = 1, xx = 2, get = 4, keepttl = 8, ex = 16, px = 32, exat = 64, pxat = 128;
constexpr unsigned any_ttl = keepttl | ex | px | exat | pxat;

unsigned expiry_unit(std::string_view opt) {
    return iequals(opt, "ex")     ? ex
           : iequals(opt, "px")   ? px
           : iequals(opt, "exat") ? exat
           : iequals(opt, "pxat") ? pxat
                                  : 0;
}

// The absolute expiry time SET's option gives, or nullopt after replying with the error.
std::optional<std::int64_t> set_expiry_time(Call& call, std::size_t arg, unsigned unit) {
    auto n = integer_arg(call, arg);
    if (!n) return std::nullopt;
    std::int64_t ms = *n;
    bool seconds = unit == ex || unit == exat;
    bool relative = unit == ex || unit == px;
    std::int64_t base = relative ? call.db.now() : 0;
    if (ms <= 0 || (seconds && ms > INT64_MAX / 1000) || (seconds ? ms * 1000 : ms) > INT64_MAX - base) {
        reply::error(call.out, "ERR invalid expire time in 'set' command");
        return std::nullopt;
    }
    return (seconds ? ms * 1000 : ms) + base;
}

// ANCHOR: set
void cmd_set(Call& call) {
    const auto& argv = call.argv;
    unsigned flags = 0;
    std::size_t expire_arg = 0;
    for (std::size_t j = 3; j < argv.size(); ++j) {
        std::string_view opt = argv[j];
        auto clear_of = [&](unsigned conflicts) { return (flags & conflicts) == 0; };
        if (iequals(opt, "nx") && clear_of(xx)) {
            flags |= nx;
        } else if (iequals(opt, "xx") && clear_of(nx)) {
            flags |= xx;
        } else if (iequals(opt, "get")) {
            flags |= get;
        } else if (iequals(opt, "keepttl") && clear_of(any_ttl & ~keepttl)) {
            flags |= keepttl;
        } else if (unsigned unit = expiry_unit(opt);
                   unit && clear_of(any_ttl & ~unit) && j + 1 < argv.size()) {
            flags = (flags & ~any_ttl) | unit;
            expire_arg = ++j;
        } else {
            return reply_syntax_error(call);
        }
    }
    std::optional<std::int64_t> when;
    if (expire_arg != 0 && !(when = set_expiry_time(call, expire_arg, flags & any_ttl))) return;

    Keyspace::Item* old = call.db.find(argv[1]);
    if (flags & get) reply_value(call, old);  // the old value, whether or not NX/XX let the SET happen
    if ((flags & nx && old) || (flags & xx && !old)) {
        if (!(flags & get)) reply::null(call.out);
        return;
    }
    Keyspace::Item& item = call.db.set(argv[1], argv[2], flags & keepttl);
    if (when) call.db.set_expiry(item, *when);
    if (!(flags & get)) reply::ok(call.out);
}
// ANCHOR_END: set

void cmd_get(Call& call) {
    reply_value(call, call.db.find(call.argv[1]));
}

void cmd_getdel(Call& call) {
    Keyspace::Item* item = call.db.find(call.argv[1]);
    reply_value(call, item);
    if (item) call.db.erase(*item);
}

void cmd_append(Call& call) {
    std::string_view tail = call.argv[2];
    Keyspace::Item* item = call.db.find(call.argv[1]);
    if (item == nullptr) {
        item = &call.db.set(call.argv[1], tail);
    } else {
        std::string& value = item->second.value;
        if (value.size() + tail.size() > static_cast<std::uint64_t>(call.server.limits.max_bulk))
            return reply::error(call.out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        value.append(tail);
    }
    reply::integer(call.out, static_cast<std::int64_t>(item->second.value.size()));
}

void cmd_strlen(Call& call) {
    const Keyspace::Item* item = call.db.find(call.argv[1]);
    reply::integer(call.out, item ? static_cast<std::int64_t>(item->second.value.size()) : 0);
}

// INCR and friends keep the key's expiry, as Redis does: they change the value, not the key.
void add_to(Call& call, std::int64_t delta) {
    Keyspace::Item* item = call.db.find(call.argv[1]);
    std::optional<std::int64_t> value = item ? parse_int(item->second.value) : 0;
    if (!value) return reply_not_integer(call);
    if ((delta < 0 && *value < 0 && delta < INT64_MIN - *value) ||
        (delta > 0 && *value > 0 && delta > INT64_MAX - *value))
        return reply::error(call.out, "ERR increment or decrement would overflow");
    *value += delta;
    if (item == nullptr) item = &call.db.find_or_add(call.argv[1]);
    item->second.value.clear();
    append_int(item->second.value, *value);
    reply::integer(call.out, *value);
}

void cmd_incr(Call& call) {
    add_to(call, 1);
}

void cmd_decr(Call& call) {
    add_to(call, -1);
}

void cmd_incrby(Call& call) {
    if (auto n = integer_arg(call, 2)) add_to(call, *n);
}

void cmd_decrby(Call& call) {
    auto n = integer_arg(call, 2);
    if (!n) return;
    if (*n == INT64_MIN) return reply::error(call.out, "ERR decrement would overflow");
    add_to(call, -*n);
}

void cmd_mget(Call& call) {
    reply::array(call.out, call.argv.size() - 1);
    for (std::size_t i = 1; i < call.argv.size(); ++i)
        reply_value(call, call.db.find(call.argv[i]));
}

void cmd_mset(Call& call) {
    if (call.argv.size() % 2 == 0) return reply_arity_error(call);
    for (std::size_t i = 1; i < call.argv.size(); i += 2)
        call.db.set(call.argv[i], call.argv[i + 1]);
    reply::ok(call.out);
}

const Command table[] = {
    {"get", 2, cmd_get, "readonly fast", 1, 1, 1},
    {"set", -3, cmd_set, "write denyoom", 1, 1, 1},
    {"getdel", 2, cmd_getdel, "write fast", 1, 1, 1},
    {"append", 3, cmd_append, "write denyoom fast", 1, 1, 1},
    {"strlen", 2, cmd_strlen, "readonly fast", 1, 1, 1},
    {"incr", 2, cmd_incr, "write denyoom fast", 1, 1, 1},
    {"decr", 2, cmd_decr, "write denyoom fast", 1, 1, 1},
    {"incrby", 3, cmd_incrby, "write denyoom fast", 1, 1, 1},
    {"decrby", 3, cmd_decrby, "write denyoom fast", 1, 1, 1},
    {"mget", -2, cmd_mget, "readonly fast", 1, -1, 1},
    {"mset", -3, cmd_mset, "write denyoom", 1, -1, 2},
};

}  // namespace

std::span<const Command> string_commands() {
    return table;
}

}  // namespace redis
