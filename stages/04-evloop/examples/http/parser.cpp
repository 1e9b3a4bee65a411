// The request head, strictly as RFC 9112 (sections 2-3 and 5-6) and RFC 9110 (section 5)
// write it. Where the RFCs let a server choose, this one refuses: a request that two
// servers could read two ways (a proxy in front of this one, say) is how requests are
// smuggled, so anything ambiguous is a 400 and the connection closes after it.
#include <array>
#include <cstring>

#include "request.hpp"

namespace http {
namespace {

// tchar (RFC 9110 section 5.6.2): the characters of a method, a field name or a coding.
constexpr std::array<bool, 256> kToken = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c)
        t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c)
        t[c] = t[c - 'a' + 'A'] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~"))
        t[static_cast<unsigned char>(c)] = true;
    return t;
}();

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!kToken[static_cast<unsigned char>(c)]) return false;
    return true;
}

// field-vchar, SP and HTAB: everything but the control characters and DEL. A CR that is
// not part of a line ending is a control character, so it is refused here.
bool is_field_value(std::string_view s) {
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110
// section 5.6.1: empty elements are allowed and ignored); stops when fn returns false.
template <typename Fn>
bool for_each_element(std::string_view list, Fn fn) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto item = trim(list.substr(0, comma));
        if (!item.empty() && !fn(item)) return false;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return true;
}

// The next line of `s` (without its LF, or CRLF), advancing `s` past it.
std::string_view next_line(std::string_view& s) {
    auto lf = s.find('\n');
    auto line = s.substr(0, lf);
    s.remove_prefix(lf == std::string_view::npos ? s.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

// request-line = method SP request-target SP HTTP-version, single spaces only.
int parse_request_line(std::string_view line, Request* r) {
    auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return 400;
    auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return 400;  // HTTP/0.9's "GET /" among others
    r->method = line.substr(0, sp1);
    r->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    auto version = line.substr(sp2 + 1);
    if (!is_token(r->method) || r->target.empty()) return 400;
    for (char ch : r->target) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f || c == '#') return 400;  // raw non-ASCII must be percent-encoded
    }
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) || version[6] != '.' ||
        !digit(version[7]))
        return 400;
    if (version[5] != '1') return 505;
    r->minor = version[7] - '0';
    return 0;
}

// Content-Length = 1*DIGIT; a list of equal values is one value (RFC 9112 section 6.3).
// A number too large for 64 bits is kept as the largest one: it is over any limit anyway.
bool parse_length(std::string_view value, bool* seen, std::uint64_t* out) {
    return for_each_element(value, [&](std::string_view item) {
        std::uint64_t n = 0;
        for (char c : item) {
            if (c < '0' || c > '9') return false;
            unsigned d = static_cast<unsigned>(c - '0');
            n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
        }
        if (*seen && n != *out) return false;
        *seen = true;
        *out = n;
        return true;
    });
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; };
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// ANCHOR: scan-head
HeadEnd scan_head(std::string_view in, const Limits& limits, HeadScan* s) {
    while (s->pos < in.size()) {
        const void* found = std::memchr(in.data() + s->pos, '\n', in.size() - s->pos);
        if (found == nullptr) {
            s->pos = in.size();
            break;
        }
        std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(found) - in.data());
        std::size_t end = lf > s->line_start && in[lf - 1] == '\r' ? lf - 1 : lf;
        bool empty = end == s->line_start;
        s->pos = s->line_start = lf + 1;
        if (empty && s->lines == 0) {  // an empty line before the request line is ignored
            s->start = lf + 1;
            if (s->start > limits.request_line) return {HeadEnd::error, 0, 400};
            continue;
        }
        if (s->lines == 0 && end - s->start > limits.request_line) return {HeadEnd::error, 0, 414};
        if (lf + 1 - s->start > limits.head) return {HeadEnd::error, 0, 431};
        if (empty) return {HeadEnd::complete, lf + 1, 0};
        if (++s->lines > limits.fields + 1) return {HeadEnd::error, 0, 431};
    }
    // The line in progress may already be past a limit: refuse it now rather than wait for
    // a line end that a hostile client never sends.
    if (s->lines == 0 && in.size() - s->start > limits.request_line) return {HeadEnd::error, 0, 414};
    if (in.size() - s->start > limits.head) return {HeadEnd::error, 0, 431};
    return {};
}
// ANCHOR_END: scan-head

int parse_head(std::string_view head, Request* r) {
    *r = Request{};
    if (int status = parse_request_line(next_line(head), r)) return status;
    int hosts = 0;
    bool has_length = false, has_coding = false, chunked = false, close = false, keep_alive = false;
    int modified_since = 0;
    for (;;) {
        if (head.empty()) return 400;  // scan_head() stops at the blank line: cannot happen
        auto line = next_line(head);
        if (line.empty()) break;
        // obs-fold: a line that continues the previous field's value (RFC 9112 section 5.2).
        if (line.front() == ' ' || line.front() == '\t') return 400;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return 400;
        auto name = line.substr(0, colon);  // no space before the colon (RFC 9112 section 5.1)
        auto value = trim(line.substr(colon + 1));
        if (!is_token(name) || !is_field_value(value)) return 400;
        if (iequals(name, "host")) {
            ++hosts;
            for (char c : value)
                if (c == '/' || c == '?' || c == '#' || c == '@' || c == ' ' || c == '\t') return 400;
        } else if (iequals(name, "content-length")) {
            if (!parse_length(value, &has_length, &r->content_length) || !has_length) return 400;
        } else if (iequals(name, "transfer-encoding")) {
            int status = 0;
            for_each_element(value, [&](std::string_view coding) {
                if (chunked) status = 400;  // chunked must be the last coding, applied once
                if (iequals(coding, "chunked"))
                    chunked = true;
                else if (status == 0)
                    status = is_token(coding) ? 501 : 400;
                return status == 0;
            });
            if (status) return status;
            has_coding = true;
        } else if (iequals(name, "connection")) {
            for_each_element(value, [&](std::string_view option) {
                close = close || iequals(option, "close");
                keep_alive = keep_alive || iequals(option, "keep-alive");
                return true;
            });
        } else if (iequals(name, "expect")) {
            r->expect_continue = iequals(value, "100-continue");
        } else if (iequals(name, "if-modified-since")) {
            if (++modified_since == 1) r->if_modified_since = value;
        }
    }
    if (modified_since > 1) r->if_modified_since = {};
    // Host: exactly one in HTTP/1.1, at most one in 1.0 (RFC 9112 section 3.2).
    if (hosts > 1 || (hosts == 0 && r->minor >= 1)) return 400;
    if (has_coding) {
        // Transfer-Encoding in 1.0, beside Content-Length, or not ending in chunked: the
        // framing is ambiguous (RFC 9112 section 6.1 and 6.3).
        if (r->minor == 0 || has_length || !chunked) return 400;
        r->body = Body::chunked;
    } else if (has_length && r->content_length > 0) {
        r->body = Body::length;
    }
    r->keep_alive = keep_alive && r->minor == 0 && !close;
    r->close = close || (r->minor == 0 && !keep_alive);
    return 0;
}

}  // namespace http
