// The command table and how a request becomes exactly one reply.
//
// Each command has Redis's name, arity and error wording, so a client cannot tell the
// difference where both implement a command. Arity follows Redis's convention: n means
// exactly n arguments counting the name, -n means at least n. Commands with subcommands
// (CLIENT, COMMAND, CONFIG) keep them in a table of their own, named "client|setname" in
// messages, as Redis 7 names them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keyspace.hpp"
#include "parser.hpp"

namespace redis {

// What every connection shares: one per server.
struct Server {
    Server() = default;
    explicit Server(std::uint64_t seed) : keyspace(seed) {}  // the same hash and sampling order every run

    Keyspace keyspace;
    std::function<std::int64_t()> clock = Keyspace::wall_clock_ms;  // tests and the fuzz target fix it
    Limits limits;
    std::int64_t started_ms = Keyspace::wall_clock_ms();
    std::size_t max_query_buffer = 1ULL << 30;  // a connection's unparsed input (client-query-buffer-limit)
    int loops = 1;
    std::string backend;    // the poller, for INFO's multiplexing_api
    std::string listening;  // the first address, for INFO
    std::atomic<std::int64_t> clients{0};
    std::atomic<std::uint64_t> connections_total{0};
    std::atomic<std::uint64_t> commands_total{0};
    std::atomic<std::uint64_t> next_client_id{1};
};

// One connection's own state.
struct Client {
    std::uint64_t id = 0;
    std::string name;                // CLIENT SETNAME
    bool close_after_reply = false;  // QUIT, or a request that is an attack
};

// One request being executed. argv[0] is the command name as the client wrote it.
struct Call {
    Server& server;
    Keyspace& db;
    Client& client;
    std::string& out;
    const std::vector<std::string_view>& argv;
    const struct Command* command = nullptr;  // set by execute()
};

using Handler = void (*)(Call&);

struct Command {
    std::string_view name;  // lower case; "client|setname" for a subcommand
    int arity;
    Handler run;             // for a container: nullptr, and `subcommands` is set
    std::string_view flags;  // COMMAND's flag words, space-separated
    int first_key = 0, last_key = 0, step = 0;
    std::span<const Command> subcommands = {};
};

// The parts of the table, one per file.
std::span<const Command> string_commands();  // commands_strings.cpp
std::span<const Command> key_commands();     // commands_keys.cpp
std::span<const Command> server_commands();  // commands_server.cpp

// Every top-level command, in table order (for COMMAND).
const std::vector<const Command*>& all_commands();
const Command* find_command(std::string_view name);

// Looks the command up, checks its arity and runs it: appends exactly one reply to
// call.out, or none for a request that looks like an attack.
void execute(Call& call);

// The replies shared by several commands, worded as Redis words them.
void reply_arity_error(Call& call);
void reply_syntax_error(Call& call);
void reply_not_integer(Call& call);
// argv[i] as a 64-bit integer, or nullopt after replying "not an integer".
std::optional<std::int64_t> integer_arg(Call& call, std::size_t i);

}  // namespace redis
