#include "dates.hpp"

#include <algorithm>
#include <string_view>

namespace http {
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kLongDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A small cursor over the text: each step consumes what it matched or fails.
struct Reader {
    std::string_view s;
    bool ok = true;

    bool literal(std::string_view word) {
        ok = ok && s.substr(0, word.size()) == word;
        if (ok) s.remove_prefix(word.size());
        return ok;
    }
    int number(std::size_t digits, bool leading_space = false) {
        int n = 0;
        for (std::size_t i = 0; ok && i < digits; ++i) {
            char c = i < s.size() ? s[i] : '\0';
            if (c >= '0' && c <= '9')
                n = n * 10 + (c - '0');
            else if (!(leading_space && i == 0 && c == ' '))
                ok = false;
        }
        if (ok) s.remove_prefix(digits);
        return n;
    }
    int month() {
        for (int m = 0; ok && m < 12; ++m)
            if (s.substr(0, 3) == kMonths[m]) return s.remove_prefix(3), m;
        return ok = false, 0;
    }
    void time_of_day(std::tm* tm) {
        tm->tm_hour = number(2);
        literal(":");
        tm->tm_min = number(2);
        literal(":");
        tm->tm_sec = number(2);
    }
};

bool weekday(Reader& r, const char* const (&names)[7]) {
    for (const char* name : names)
        if (r.s.substr(0, std::string_view(name).size()) == name) return r.literal(name);
    return r.ok = false;
}

// "06 Nov 1994 08:49:37 GMT" (IMF-fixdate's) or "06-Nov-94 08:49:37 GMT" (RFC 850's).
void date_and_time(Reader& r, std::tm* tm, std::string_view separator, std::size_t year_digits) {
    tm->tm_mday = r.number(2);
    r.literal(separator);
    tm->tm_mon = r.month();
    r.literal(separator);
    tm->tm_year = r.number(year_digits) - 1900;
    r.literal(" ");
    r.time_of_day(tm);
    r.literal(" GMT");
}

}  // namespace

void format_date(std::time_t t, char (&out)[kDateLength + 1]) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    // Years past 9999 do not fit the form; no file or clock here is that far off.
    int year = std::clamp(tm.tm_year + 1900, 0, 9999);
    char* p = out;
    auto put = [&](std::string_view s) { p = std::copy(s.begin(), s.end(), p); };
    auto two = [&](int n) {
        *p++ = static_cast<char>('0' + n / 10);
        *p++ = static_cast<char>('0' + n % 10);
    };
    put(kDays[tm.tm_wday]);
    put(", ");
    two(tm.tm_mday);
    *p++ = ' ';
    put(kMonths[tm.tm_mon]);
    *p++ = ' ';
    two(year / 100);
    two(year % 100);
    *p++ = ' ';
    two(tm.tm_hour);
    *p++ = ':';
    two(tm.tm_min);
    *p++ = ':';
    two(tm.tm_sec);
    put(" GMT");
    *p = '\0';
}

std::optional<std::time_t> parse_date(std::string_view text) {
    std::tm tm{};
    Reader r{text};
    if (text.size() == 29) {  // Sun, 06 Nov 1994 08:49:37 GMT
        weekday(r, kDays);
        r.literal(", ");
        date_and_time(r, &tm, " ", 4);
    } else if (text.size() == 24) {  // Sun Nov  6 08:49:37 1994
        weekday(r, kDays);
        r.literal(" ");
        tm.tm_mon = r.month();
        r.literal(" ");
        tm.tm_mday = r.number(2, true);
        r.literal(" ");
        r.time_of_day(&tm);
        r.literal(" ");
        tm.tm_year = r.number(4) - 1900;
    } else {  // Sunday, 06-Nov-94 08:49:37 GMT
        weekday(r, kLongDays);
        r.literal(", ");
        date_and_time(r, &tm, "-", 2);
        // A two-digit year more than 50 years ahead is the latest such year in the past
        // (RFC 9110 section 5.6.7).
        std::tm today{};
        std::time_t now = std::time(nullptr);
        ::gmtime_r(&now, &today);
        int year = today.tm_year - today.tm_year % 100 + (tm.tm_year + 1900);
        tm.tm_year = year > today.tm_year + 50 ? year - 100 : year;
    }
    if (!r.ok || !r.s.empty() || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return std::nullopt;
    return ::timegm(&tm);
}

std::time_t Clock::now() const {
    return std::time(nullptr);
}

std::string_view Clock::date() const {
    thread_local std::time_t formatted = -1;
    thread_local char text[kDateLength + 1];
    std::time_t t = now();
    if (t != formatted) format_date(formatted = t, text);
    return {text, kDateLength};
}

}  // namespace http
