#include "commands.hpp"

#include "reply.hpp"

namespace redis {
namespace {

// A browser tricked into posting to this port sends "POST / HTTP/1.1" and "Host: ...":
// Redis drops such a connection unanswered (cross-protocol scripting), and so does this
// server. Redis also discards the replies it had not yet sent to the requests before;
// here those are sent, since what was sent must not depend on how the reads happened to
// split the input. Looked up like commands, but COMMAND does not list them.
void drop_connection(Call& call) {
    call.client.close_after_reply = true;
}
const Command attacks[] = {{"post", -1, drop_connection, ""}, {"host:", -1, drop_connection, ""}};

// Names are found by length first, then compared: with a few dozen commands that is a
// handful of short comparisons, cheaper than hashing the name.
constexpr std::size_t kLongestName = 16;

struct Table {
    std::vector<const Command*> all;
    std::vector<const Command*> by_length[kLongestName + 1];
    Table() {
        for (auto part : {string_commands(), key_commands(), server_commands()})
            for (const Command& c : part)
                all.push_back(&c);
        for (const Command* c : all)
            by_length[c->name.size()].push_back(c);
        for (const Command& c : attacks)
            by_length[c.name.size()].push_back(&c);
    }
};

const Table& table() {
    static const Table t;
    return t;
}

// printf's "%.*s" on a C string: Redis formats arguments into messages that way, so a
// message stops at the first NUL byte of an argument.
std::string_view c_string(std::string_view s, std::size_t max) {
    return s.substr(0, std::min(max, s.find('\0')));
}

void reply_unknown(Call& call) {
    std::string args;
    for (std::size_t i = 1; i < call.argv.size() && args.size() < 128; ++i) {
        std::size_t room = 128 - args.size();  // the quotes do not count against it
        (args += '\'').append(c_string(call.argv[i], room)) += "' ";
    }
    std::string message = "ERR unknown command '";
    message.append(c_string(call.argv[0], 128)) += "', with args beginning with: ";
    reply::error(call.out, message + args);
}

bool arity_ok(const Command& c, std::size_t argc) {
    return c.arity > 0 ? argc == static_cast<std::size_t>(c.arity)
                       : argc >= static_cast<std::size_t>(-c.arity);
}

}  // namespace

const std::vector<const Command*>& all_commands() {
    return table().all;
}

const Command* find_command(std::string_view name) {
    if (name.size() > kLongestName) return nullptr;
    for (const Command* c : table().by_length[name.size()])
        if (iequals(name, c->name)) return c;
    return nullptr;
}

// ANCHOR: execute
void execute(Call& call) {
    const auto& argv = call.argv;
    const Command* command = find_command(argv[0]);
    if (command == nullptr) return reply_unknown(call);
    if (!command->subcommands.empty() && argv.size() >= 2) {
        const Command* sub = nullptr;
        for (const Command& s : command->subcommands)
            if (iequals(s.name.substr(s.name.find('|') + 1), argv[1])) sub = &s;
        if (sub == nullptr) {
            std::string upper(command->name);
            for (char& ch : upper)
                ch = static_cast<char>(ch - 'a' + 'A');
            std::string message = "ERR unknown subcommand '";
            message.append(c_string(argv[1], 128)) += "'. Try " + upper + " HELP.";
            return reply::error(call.out, message);
        }
        command = sub;
    }
    call.command = command;
    if (!arity_ok(*command, argv.size())) return reply_arity_error(call);
    call.server.commands_total.fetch_add(1, std::memory_order_relaxed);
    command->run(call);
}
// ANCHOR_END: execute

void reply_arity_error(Call& call) {
    reply::error(call.out,
                 "ERR wrong number of arguments for '" + std::string(call.command->name) + "' command");
}

void reply_syntax_error(Call& call) {
    reply::error(call.out, "ERR syntax error");
}

void reply_not_integer(Call& call) {
    reply::error(call.out, "ERR value is not an integer or out of range");
}

std::optional<std::int64_t> integer_arg(Call& call, std::size_t i) {
    auto n = parse_int(call.argv[i]);
    if (!n) reply_not_integer(call);
    return n;
}

}  // namespace redis
