// HTTP dates (RFC 9110 section 5.6.7): Date, Last-Modified and If-Modified-Since.
#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace http {

constexpr std::size_t kDateLength = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// The IMF-fixdate form, the only one a server sends.
void format_date(std::time_t t, char (&out)[kDateLength + 1]);

// Any of the three forms a recipient must accept: IMF-fixdate, the obsolete RFC 850 form
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime's ("Sun Nov  6 08:49:37 1994").
// Nothing for anything else.
std::optional<std::time_t> parse_date(std::string_view text);

// The time, and the Date field's value for it, formatted once a second by each thread
// that asks. Tests and the fuzz target stop it with a subclass.
class Clock {
public:
    virtual ~Clock() = default;
    virtual std::time_t now() const;
    std::string_view date() const;  // for now(); valid until the calling thread's next call
};

}  // namespace http
