#include "glob.hpp"

#include <cstddef>
#include <utility>

#include "numbers.hpp"

namespace redis {
namespace {

// Bytes compare as signed chars, as Redis's C code compares them on x86 (so a range such
// as [a-\xff] means what it means there).
int byte(char c, bool nocase) {
    return static_cast<signed char>(nocase ? lower(c) : c);
}

// Matches text byte `c` against the one-byte token at pattern[p]; returns whether it
// matched and where the next token starts.
std::pair<bool, std::size_t> match_one(std::string_view pat, std::size_t p, char c, bool nocase) {
    const std::size_t n = pat.size();
    const int want = byte(c, nocase);
    if (pat[p] == '?') return {true, p + 1};
    if (pat[p] == '\\' && n - p >= 2) return {byte(pat[p + 1], nocase) == want, p + 2};
    if (pat[p] != '[') return {byte(pat[p], nocase) == want, p + 1};
    std::size_t i = p + 1;
    bool negate = i < n && pat[i] == '^';
    if (negate) ++i;
    bool match = false;
    for (;;) {
        if (i >= n) break;  // unterminated: the class ends with the pattern
        if (pat[i] == '\\' && n - i >= 2) {
            match |= byte(pat[i + 1], nocase) == want;
            i += 2;
        } else if (pat[i] == ']') {
            ++i;
            break;
        } else if (n - i >= 3 && pat[i + 1] == '-') {
            int lo = byte(pat[i], nocase), hi = byte(pat[i + 2], nocase);
            if (lo > hi) std::swap(lo, hi);
            match |= want >= lo && want <= hi;
            i += 3;
        } else {
            match |= byte(pat[i], nocase) == want;
            ++i;
        }
    }
    return {match != negate, i};
}

}  // namespace

bool glob_match(std::string_view pat, std::string_view text, bool nocase) {
    std::size_t p = 0, t = 0;
    std::size_t star = std::string_view::npos, star_text = 0;  // where to resume after a mismatch
    while (t < text.size()) {
        if (p < pat.size() && pat[p] == '*') {
            while (p < pat.size() && pat[p] == '*')
                ++p;
            if (p == pat.size()) return true;
            star = p;
            star_text = t;
            continue;
        }
        if (p < pat.size()) {
            auto [ok, next] = match_one(pat, p, text[t], nocase);
            if (ok) {
                p = next;
                ++t;
                continue;
            }
        }
        if (star == std::string_view::npos) return false;
        p = star;  // let the last * swallow one more byte and try again
        t = ++star_text;
    }
    while (p < pat.size() && pat[p] == '*')
        ++p;
    return p == pat.size();
}

}  // namespace redis
