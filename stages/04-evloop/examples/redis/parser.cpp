#include "parser.hpp"

#include <algorithm>
#include <cstring>

#include "numbers.hpp"

namespace redis {
namespace {

// What Redis's splitter treats as blank between arguments (C isspace) and what ends an
// unquoted argument: not quite the same set, so "a\vb" is one argument.
bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
bool ends_word(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0';
}
int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Splits an inline line as Redis does: blanks separate arguments; "..." takes the escapes
// \n \r \t \b \a \xHH and \<any>; '...' takes only \'; a closing quote must be followed by
// a blank or the end of the line. Unquoted arguments are views into the line; quoted ones
// are decoded into `scratch`, reserved up front so that the views into it stay valid.
bool split_inline(std::string_view line, std::vector<std::string_view>& args, std::string& scratch) {
    auto at = [&](std::size_t k) { return k < line.size() ? line[k] : '\0'; };
    std::size_t i = 0;
    for (;;) {
        while (i < line.size() && blank(line[i]))
            ++i;
        if (i == line.size()) return true;
        std::size_t start = i;
        while (!ends_word(at(i)) && at(i) != '"' && at(i) != '\'')
            ++i;
        if (ends_word(at(i))) {  // the common case: no quotes, no copy
            args.push_back(line.substr(start, i - start));
            continue;
        }
        if (scratch.capacity() < line.size()) scratch.reserve(line.size());
        std::size_t from = scratch.size();
        scratch.append(line.substr(start, i - start));
        const bool doubled = at(i) == '"';
        ++i;
        for (;;) {
            char c = at(i);
            if (c == '\0') return false;  // unterminated quotes
            if (c == (doubled ? '"' : '\'')) {
                if (at(i + 1) != '\0' && !blank(at(i + 1))) return false;
                ++i;
                break;
            }
            if (c == '\\' && doubled && at(i + 1) == 'x' && hex(at(i + 2)) >= 0 && hex(at(i + 3)) >= 0) {
                scratch += static_cast<char>(hex(at(i + 2)) * 16 + hex(at(i + 3)));
                i += 4;
            } else if (c == '\\' && doubled && at(i + 1) != '\0') {
                char e = at(i + 1);
                scratch += e == 'n'   ? '\n'
                           : e == 'r' ? '\r'
                           : e == 't' ? '\t'
                           : e == 'b' ? '\b'
                           : e == 'a' ? '\a'
                                      : e;
                i += 2;
            } else if (c == '\\' && !doubled && at(i + 1) == '\'') {
                scratch += '\'';
                i += 2;
            } else {
                scratch += c;
                ++i;
            }
        }
        args.push_back(std::string_view(scratch).substr(from));
    }
}

}  // namespace

RequestParser::Status RequestParser::parse(std::string_view in) {
    if (in.size() < need_ || in.empty()) return Status::incomplete;
    if (kind_ == Kind::none) kind_ = in[0] == '*' ? Kind::multibulk : Kind::inline_line;
    return kind_ == Kind::multibulk ? parse_multibulk(in) : parse_inline(in);
}

void RequestParser::next() {
    kind_ = Kind::none;
    need_ = scanned_ = pos_ = size_ = 0;
    count_ = bulk_ = -1;
    args_.clear();
    spans_.clear();
    unquoted_.clear();
    // One huge request must not pin its index for the rest of the connection's life.
    if (spans_.capacity() > 4096) spans_ = {}, args_ = {};
    if (unquoted_.capacity() > limits_.max_inline) unquoted_ = {};
}

RequestParser::Status RequestParser::fail(std::string message) {
    error_ = "ERR Protocol error: " + std::move(message);
    return Status::error;
}

// ANCHOR: inline
RequestParser::Status RequestParser::parse_inline(std::string_view in) {
    const char* nl = static_cast<const char*>(std::memchr(in.data() + scanned_, '\n', in.size() - scanned_));
    if (nl == nullptr) {
        if (in.size() > limits_.max_inline) return fail("too big inline request");
        scanned_ = in.size();
        need_ = in.size() + 1;  // nothing to do before one more byte
        return Status::incomplete;
    }
    std::size_t end = static_cast<std::size_t>(nl - in.data());
    // The same bound on a line that did arrive whole, so the answer does not depend on
    // how the line was split into reads (Redis checks only a line still incomplete).
    if (end > limits_.max_inline) return fail("too big inline request");
    std::string_view line = in.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = line.substr(0, line.find('\0'));  // Redis splits a C string: a NUL ends the line
    if (!split_inline(line, args_, unquoted_)) return fail("unbalanced quotes in request");
    size_ = end + 1;
    return Status::complete;
}
// ANCHOR_END: inline

RequestParser::Status RequestParser::find_line_end(std::string_view in, std::size_t from,
                                                   const char* too_long, std::size_t* cr) {
    std::size_t start = std::max(from, scanned_);
    const char* p = static_cast<const char*>(std::memchr(in.data() + start, '\r', in.size() - start));
    if (p == nullptr) {
        if (in.size() - from > limits_.max_inline) return fail(too_long);
        scanned_ = in.size();
        need_ = in.size() + 1;
        return Status::incomplete;
    }
    *cr = static_cast<std::size_t>(p - in.data());
    if (*cr - from > limits_.max_inline) return fail(too_long);
    if (*cr + 1 == in.size()) {
        scanned_ = *cr;
        need_ = *cr + 2;
        return Status::incomplete;
    }
    // Redis skips the byte after '\r' unseen; a stray byte there means the two sides no
    // longer agree on where requests start, so it is an error here.
    if (in[*cr + 1] != '\n') return fail("expected '\\n' after '\\r'");
    return Status::complete;
}

// ANCHOR: multibulk
RequestParser::Status RequestParser::parse_multibulk(std::string_view in) {
    std::size_t cr = 0;
    if (count_ < 0) {
        if (auto s = find_line_end(in, 0, "too big mbulk count string", &cr); s != Status::complete) return s;
        auto n = parse_int(in.substr(1, cr - 1));
        if (!n || *n > limits_.max_args) return fail("invalid multibulk length");
        pos_ = cr + 2;
        if (*n <= 0) {  // "*0" and "*-1" are requests with no arguments: no reply
            size_ = pos_;
            return Status::complete;
        }
        count_ = *n;
        spans_.reserve(static_cast<std::size_t>(std::min<std::int64_t>(count_, 1024)));
    }
    while (static_cast<std::int64_t>(spans_.size()) < count_) {
        if (bulk_ < 0) {
            if (pos_ < in.size() && in[pos_] != '$')
                return fail(std::string("expected '$', got '") + in[pos_] + "'");
            if (auto s = find_line_end(in, pos_, "too big bulk count string", &cr); s != Status::complete)
                return s;
            auto n = parse_int(in.substr(pos_ + 1, cr - pos_ - 1));
            if (!n || *n < 0 || *n > limits_.max_bulk) return fail("invalid bulk length");
            bulk_ = *n;
            pos_ = cr + 2;
        }
        std::size_t end = pos_ + static_cast<std::size_t>(bulk_) + 2;
        if (in.size() < end) {
            need_ = end;  // a large value is not looked at again until all of it is here
            return Status::incomplete;
        }
        if (in[end - 2] != '\r' || in[end - 1] != '\n') return fail("expected '\\r\\n' after bulk data");
        spans_.emplace_back(pos_, static_cast<std::size_t>(bulk_));
        pos_ = end;
        bulk_ = -1;
    }
    args_.reserve(spans_.size());
    for (auto [offset, length] : spans_)
        args_.push_back(in.substr(offset, length));
    size_ = pos_;
    return Status::complete;
}
// ANCHOR_END: multibulk

}  // namespace redis
