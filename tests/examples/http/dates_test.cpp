// HTTP dates: the one form sent, the three forms read.
#include <doctest/doctest.h>

#include <string>

#include "dates.hpp"

TEST_CASE("dates: the IMF-fixdate form is written") {
    char text[http::kDateLength + 1];
    http::format_date(784111777, text);
    CHECK(std::string_view(text) == "Sun, 06 Nov 1994 08:49:37 GMT");
    http::format_date(0, text);
    CHECK(std::string_view(text) == "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST_CASE("dates: all three forms are read") {
    CHECK(http::parse_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    CHECK(http::parse_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    CHECK(http::parse_date("Sun Nov  6 08:49:37 1994") == 784111777);
    CHECK(http::parse_date("Thu, 01 Jan 2037 00:00:00 GMT") == 2114380800);
    CHECK(http::parse_date("Thursday, 01-Jan-37 00:00:00 GMT") == 2114380800);
}

TEST_CASE("dates: anything else is no date") {
    for (std::string_view bad :
         {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT ",
          "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
          "Sun, 06 Nov 1994 24:00:00 GMT", "Sun Nov 6 08:49:37 1994", "Sunday, 06-Nov-1994 08:49:37 GMT",
          "Sun, 06 Nov 1994 08:49:37 GMT\r"})
        CHECK_MESSAGE(!http::parse_date(bad), std::string(bad));
}
