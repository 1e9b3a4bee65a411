// The connection and server commands: PING, ECHO, QUIT, CLIENT, COMMAND, CONFIG GET, INFO.
// COMMAND and CONFIG GET answer what redis-cli and redis-benchmark ask when they start.
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "commands.hpp"
#include "glob.hpp"
#include "reply.hpp"

namespace redis {
namespace {

void cmd_ping(Call& call) {
    if (call.argv.size() > 2) return reply_arity_error(call);
    if (call.argv.size() == 1) return reply::simple(call.out, "PONG");
    reply::bulk(call.out, call.argv[1]);
}

void cmd_echo(Call& call) {
    reply::bulk(call.out, call.argv[1]);
}

void cmd_quit(Call& call) {
    reply::ok(call.out);
    call.client.close_after_reply = true;
}

void cmd_client_id(Call& call) {
    reply::integer(call.out, static_cast<std::int64_t>(call.client.id));
}

void cmd_client_setname(Call& call) {
    std::string_view name = call.argv[2];
    for (char c : name)
        if (c < '!' || c > '~')  // names must survive CLIENT LIST's space-separated format
            return reply::error(call.out,
                                "ERR Client names cannot contain spaces, newlines or special characters.");
    call.client.name = name;  // an empty name removes the name
    reply::ok(call.out);
}

void cmd_client_getname(Call& call) {
    if (call.client.name.empty()) return reply::null(call.out);
    reply::bulk(call.out, call.client.name);
}

// One entry of COMMAND's reply, in Redis 7's shape: name, arity, flags, first key, last
// key, step, ACL categories, tips, key specs, subcommands (the last four left empty but
// for subcommands).
void describe(std::string& out, const Command& c) {
    reply::array(out, 10);
    reply::bulk(out, c.name);
    reply::integer(out, c.arity);
    std::vector<std::string_view> flags;
    for (std::size_t at = 0; at < c.flags.size();) {
        std::size_t end = std::min(c.flags.find(' ', at), c.flags.size());
        flags.push_back(c.flags.substr(at, end - at));
        at = end + 1;
    }
    reply::array(out, flags.size());
    for (auto f : flags)
        reply::simple(out, f);
    reply::integer(out, c.first_key);
    reply::integer(out, c.last_key);
    reply::integer(out, c.step);
    out += "*0\r\n*0\r\n*0\r\n";
    reply::array(out, c.subcommands.size());
    for (const Command& sub : c.subcommands)
        describe(out, sub);
}

void cmd_command(Call& call) {
    reply::array(call.out, all_commands().size());
    for (const Command* c : all_commands())
        describe(call.out, *c);
}

void cmd_command_count(Call& call) {
    reply::integer(call.out, static_cast<std::int64_t>(all_commands().size()));
}

void cmd_command_info(Call& call) {
    reply::array(call.out, call.argv.size() - 2);
    for (std::size_t i = 2; i < call.argv.size(); ++i) {
        const Command* c = find_command(call.argv[i]);
        if (c == nullptr) {
            reply::null(call.out);
        } else {
            describe(call.out, *c);
        }
    }
}

// redis-cli asks for the documentation to show hints as one types; there is none here.
void cmd_command_docs(Call& call) {
    reply::array(call.out, 0);
}

void cmd_config_get(Call& call) {
    const Server& s = call.server;
    const std::pair<std::string_view, std::string> settings[] = {
        {"save", ""},  // persistence: none at all
        {"appendonly", "no"},
        {"databases", "1"},
        {"io-threads", "1"},
        {"maxmemory", "0"},
        {"proto-max-bulk-len", std::to_string(s.limits.max_bulk)},
        {"client-query-buffer-limit", std::to_string(s.max_query_buffer)},
    };
    std::vector<const std::pair<std::string_view, std::string>*> found;
    for (const auto& setting : settings)
        for (std::size_t i = 2; i < call.argv.size(); ++i)
            if (glob_match(call.argv[i], setting.first, true)) {
                found.push_back(&setting);
                break;
            }
    reply::array(call.out, 2 * found.size());
    for (const auto* setting : found) {
        reply::bulk(call.out, setting->first);
        reply::bulk(call.out, setting->second);
    }
}

void info_section(std::string& text, std::string_view title, const std::vector<std::string>& lines) {
    if (!text.empty()) text += "\r\n";
    (text += "# ").append(title) += "\r\n";
    for (const auto& line : lines)
        text += line + "\r\n";
}

void cmd_info(Call& call) {
    const Server& s = call.server;
    auto wants = [&](std::string_view section) {
        if (call.argv.size() == 1) return true;
        for (std::size_t i = 1; i < call.argv.size(); ++i)
            if (iequals(call.argv[i], section) || iequals(call.argv[i], "all") ||
                iequals(call.argv[i], "default") || iequals(call.argv[i], "everything"))
                return true;
        return false;
    };
    std::int64_t uptime = (call.db.now() - s.started_ms) / 1000;
    std::string text;
    if (wants("server"))
        info_section(text, "Server",
                     {"redis_version:7.0.0", "redis_mode:standalone", "server_name:stage04-redis",
                      "arch_bits:" + std::to_string(8 * sizeof(void*)), "multiplexing_api:" + s.backend,
                      "process_id:" + std::to_string(::getpid()), "listening:" + s.listening,
                      "event_loops:" + std::to_string(s.loops), "uptime_in_seconds:" + std::to_string(uptime),
                      "uptime_in_days:" + std::to_string(uptime / 86400)});
    if (wants("clients"))
        info_section(text, "Clients", {"connected_clients:" + std::to_string(s.clients.load())});
    if (wants("stats"))
        info_section(text, "Stats",
                     {"total_connections_received:" + std::to_string(s.connections_total.load()),
                      "total_commands_processed:" + std::to_string(s.commands_total.load()),
                      "expired_keys:" + std::to_string(call.db.expired_total())});
    if (wants("keyspace")) {
        std::vector<std::string> lines;
        if (call.db.size() > 0)
            lines.push_back("db0:keys=" + std::to_string(call.db.size()) +
                            ",expires=" + std::to_string(call.db.volatile_count()) + ",avg_ttl=0");
        info_section(text, "Keyspace", lines);
    }
    reply::bulk(call.out, text);
}

const Command client_subcommands[] = {
    {"client|id", 2, cmd_client_id, "noscript loading stale"},
    {"client|setname", 3, cmd_client_setname, "noscript loading stale"},
    {"client|getname", 2, cmd_client_getname, "noscript loading stale"},
};
const Command command_subcommands[] = {
    {"command|count", 2, cmd_command_count, "loading stale"},
    {"command|docs", -2, cmd_command_docs, "loading stale"},
    {"command|info", -2, cmd_command_info, "loading stale"},
};
const Command config_subcommands[] = {
    {"config|get", -3, cmd_config_get, "admin noscript loading stale"},
};

const Command table[] = {
    {"ping", -1, cmd_ping, "fast"},
    {"echo", 2, cmd_echo, "fast"},
    {"quit", -1, cmd_quit, "allow_busy noscript loading stale fast no_auth"},
    {"client", -2, nullptr, "", 0, 0, 0, client_subcommands},
    {"command", -1, cmd_command, "loading stale", 0, 0, 0, command_subcommands},
    {"config", -2, nullptr, "", 0, 0, 0, config_subcommands},
    {"info", -1, cmd_info, "loading stale"},
};

}  // namespace

std::span<const Command> server_commands() {
    return table;
}

}  // namespace redis
