// Fuzzes stage04-redis's protocol layer (the request parser and the session that runs
// requests) for the framing bugs that matter on a byte stream: a reply lost, doubled or
// malformed, or an answer that depends on where the reads happened to split the input.
//
// The first byte picks the mode:
//   even: the rest is raw bytes, anything at all;
//   odd:  the rest is a recipe for N well-formed requests (commands, keys, binary values;
//         each sent multibulk or inline, quoted), encoded and concatenated.
// The next 8 bytes give read sizes (cycled) and the output budget. Then both modes check:
//   - fed in those reads, with that budget, the session gives byte for byte the replies
//     and the close decision it gives when fed everything at once with no budget;
//   - what it writes is a sequence of well-formed RESP2 replies, nothing more;
//   - in the odd mode, N requests get exactly N replies (the desync check).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "session.hpp"

namespace {

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "redis fuzz finding: %s\n", what);
    std::abort();
}

struct Outcome {
    std::string replies;
    bool closed = false;
    std::size_t kept = 0;
};

// Feeds `input` as a connection would see it: `reads` bytes per data event, unconsumed
// bytes kept in front of the next ones, the reply batch written (and emptied) whenever
// the session stops at `budget`.
Outcome run(std::string_view input, const std::vector<std::size_t>& reads, std::size_t budget) {
    redis::Server server(42);
    server.clock = [] { return std::int64_t(1'700'000'000'000); };
    server.started_ms = server.clock();  // INFO's uptime too, or it reads the real clock
    redis::Session session(server);
    Outcome o;
    std::string kept, batch;
    std::size_t at = 0, r = 0;
    while (at < input.size()) {
        std::size_t n = std::min(reads[r++ % reads.size()], input.size() - at);
        kept.append(input.substr(at, n));
        at += n;
        for (;;) {
            auto result = session.feed(kept, batch, budget);
            require(result.consumed <= kept.size(), "consumed more than it was given");
            kept.erase(0, result.consumed);
            o.replies += batch;
            bool full = result.next == redis::Session::Next::output_full;
            require(!full || batch.size() >= budget, "stopped for a budget it had not reached");
            batch.clear();
            if (result.next == redis::Session::Next::close) {
                o.closed = true;
                return o;
            }
            if (!full) break;
        }
    }
    o.kept = kept.size();
    return o;
}

// Length of the well-formed RESP2 reply at the front of `s`, or 0 if there is none.
std::size_t reply_length(std::string_view s, int depth = 0) {
    auto line_end = s.find("\r\n");
    if (s.empty() || line_end == std::string_view::npos || depth > 8) return 0;
    std::string_view line = s.substr(1, line_end - 1);
    std::size_t head = line_end + 2;
    auto number = [&](long long* v) {
        char* end = nullptr;
        std::string text(line);
        *v = std::strtoll(text.c_str(), &end, 10);
        return !text.empty() && *end == '\0';
    };
    long long n = 0;
    switch (s[0]) {
        case '+':
        case '-':
            return line.find_first_of("\r\n") == std::string_view::npos ? head : 0;
        case ':':
            return number(&n) ? head : 0;
        case '$':
            if (!number(&n) || n < -1) return 0;
            if (n == -1) return head;
            if (s.size() < head + n + 2 || s.substr(head + n, 2) != "\r\n") return 0;
            return head + n + 2;
        case '*': {
            if (!number(&n) || n < -1) return 0;
            std::size_t at = head;
            for (long long i = 0; i < n; ++i) {
                std::size_t len = reply_length(s.substr(at), depth + 1);
                if (len == 0) return 0;
                at += len;
            }
            return at;
        }
        default:
            return 0;
    }
}

std::size_t count_replies(std::string_view s) {
    std::size_t count = 0;
    while (!s.empty()) {
        std::size_t len = reply_length(s);
        require(len > 0, "wrote something that is not a RESP2 reply");
        s.remove_prefix(len);
        ++count;
    }
    return count;
}

// A cursor over the fuzz input that yields zeros once it runs out.
struct Bytes {
    std::string_view data;
    std::uint8_t next() {
        if (data.empty()) return 0;
        auto b = static_cast<std::uint8_t>(data[0]);
        data.remove_prefix(1);
        return b;
    }
    std::string take(std::size_t n) {
        std::string s(data.substr(0, n));
        data.remove_prefix(s.size());
        return s;
    }
};

std::string multibulk(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args)
        out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

// Every byte as \xHH inside double quotes: any argument, even an empty one, survives.
std::string inline_quoted(const std::vector<std::string>& args) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const auto& a : args) {
        out += out.empty() ? "\"" : " \"";
        for (unsigned char c : a)
            out += std::string("\\x") + digits[c >> 4] + digits[c & 15];
        out += '"';
    }
    return out + (args.size() % 2 ? "\r\n" : "\n");
}

// Builds N requests, each of which gets exactly one reply.
std::string recipe_to_requests(Bytes in, std::size_t* count) {
    static const std::vector<std::vector<std::string>> shapes = {
        {"PING"},
        {"PING", "$v"},
        {"ECHO", "$v"},
        {"SET", "$k", "$v"},
        {"GET", "$k"},
        {"DEL", "$k", "$k"},
        {"INCR", "$k"},
        {"APPEND", "$k", "$v"},
        {"STRLEN", "$k"},
        {"EXISTS", "$k"},
        {"MGET", "$k", "$k"},
        {"MSET", "$k", "$v", "$k", "$v"},
        {"GETDEL", "$k"},
        {"TTL", "$k"},
        {"EXPIRE", "$k", "$v"},
        {"SET", "$k", "$v", "EX", "$v"},
        {"TYPE", "$k"},
        {"NOSUCH", "$v"},
        {"GET"},
        {"incrby", "$k", "$v"},
    };
    std::string out;
    *count = 0;
    while (!in.data.empty() && *count < 200) {
        std::uint8_t pick = in.next();
        std::vector<std::string> args;
        for (const auto& word : shapes[pick % shapes.size()]) {
            if (word == "$k") {
                args.push_back("k" + std::to_string(in.next() % 4));
            } else if (word == "$v") {
                args.push_back(in.take(in.next() % 24));
            } else {
                args.push_back(word);
            }
        }
        out += (pick & 0x80) ? inline_quoted(args) : multibulk(args);
        ++*count;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 9) return 0;
    std::string_view all(reinterpret_cast<const char*>(data), size);
    bool recipe = data[0] & 1;
    std::vector<std::size_t> reads;
    for (std::size_t i = 1; i < 8; ++i)
        reads.push_back(1 + data[i] % 64);
    std::size_t budget = 1 + data[8] * 16u;
    std::size_t expected = 0;
    std::string input =
        recipe ? recipe_to_requests(Bytes{all.substr(9)}, &expected) : std::string(all.substr(9));

    Outcome whole = run(input, {input.size() + 1}, SIZE_MAX);
    Outcome split = run(input, reads, budget);
    require(split.replies == whole.replies, "the replies depend on how the input was split into reads");
    require(split.closed == whole.closed, "closing depends on how the input was split into reads");
    require(split.kept == whole.kept, "the kept partial request depends on the split");
    std::size_t replies = count_replies(whole.replies);
    if (recipe) {
        require(!whole.closed, "well-formed requests closed the connection");
        require(whole.kept == 0, "well-formed requests left input unparsed");
        require(replies == expected, "N pipelined requests did not get exactly N replies");
    }
    return 0;
}
