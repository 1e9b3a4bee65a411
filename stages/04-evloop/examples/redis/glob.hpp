// Glob patterns as KEYS and CONFIG GET read them: * (any run), ? (any one byte),
// [abc] [^abc] [a-z] (a class; a reversed range counts as the same range), \x (x itself).
// An unterminated class ends with the pattern, as in Redis.
//
// Redis matches recursively; this matcher backtracks only to the last *, which gives the
// same answers (every other token matches exactly one byte) in O(pattern * key) time at
// worst, where naive recursion is exponential in the number of stars.
#pragma once

#include <string_view>

namespace redis {

bool glob_match(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace redis
