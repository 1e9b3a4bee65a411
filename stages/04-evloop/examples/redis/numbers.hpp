// The integers of the protocol, read and written exactly as Redis does. Redis accepts an
// integer only in its canonical form: an optional '-', no '+', no leading zeros, no
// spaces, nothing after the digits, and a value that fits in 64 bits. "007", "+1", "-0"
// and "1 " are all "not an integer", and so is 9223372036854775808.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace redis {

inline std::optional<std::int64_t> parse_int(std::string_view s) {
    if (s.empty() || s.size() >= 21) return std::nullopt;  // Redis: LONG_STR_SIZE is 21
    if (s == "0") return 0;
    std::size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size() || s[i] < '1' || s[i] > '9') return std::nullopt;  // "-", "-0", "01"
    // 19 digits hold every int64; 20 or more are out of range, and 19 cannot wrap a uint64,
    // so the loop needs no overflow check.
    if (s.size() - i > 19) return std::nullopt;
    std::uint64_t v = 0;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    if (s[0] == '-') {
        if (v > std::uint64_t(INT64_MAX) + 1) return std::nullopt;
        return static_cast<std::int64_t>(0 - v);  // two's complement: also right for INT64_MIN
    }
    if (v > std::uint64_t(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v);
}

inline void append_int(std::string& out, std::int64_t n) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, static_cast<std::size_t>(end - digits));
}

// ASCII-only case folding: command names and options are compared like strcasecmp in
// the C locale, and never by the user's locale.
inline char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

}  // namespace redis
