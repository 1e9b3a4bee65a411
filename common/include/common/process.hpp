// Process-wide plumbing every server needs: signals, the readiness line, setup errors, tracing.
#pragma once

#include <cstdarg>
#include <string>

namespace common {

// Ignores SIGPIPE (a write to a reset peer must return EPIPE, not kill the server)
// and makes SIGINT and SIGTERM request a stop. The handlers are installed without
// SA_RESTART so a blocking call returns EINTR and the caller can notice the request.
void install_signal_handlers(const char* program);

bool stop_requested();

// A descriptor that becomes readable once a stop has been requested (the self-pipe
// trick), so an event loop can wait for signals like any other event.
int stop_fd();

// Prints exactly "listening on URL\n" to stdout and flushes it: tests and scripts
// wait for this line instead of sleeping.
void announce_listening(const std::string& url);

// A setup failure: prints "program: what: strerror(errno)" (or just "what" when
// errno_value is 0) and exits with status 1.
[[noreturn]] void die(const std::string& what, int errno_value);

// Tracing to stderr, one line per call, when enabled with --trace.
void set_trace(bool enabled);
bool tracing();
void trace(const char* format, ...) __attribute__((format(printf, 1, 2)));

// "ECONNRESET": errno's symbolic name, which a trace line shows instead of its message.
const char* errno_name(int err);

// Rate-limited warning to stderr: at most one line per `key` per second, with a
// count of the lines suppressed since the last one.
void warn_limited(const char* key, const std::string& message);

}  // namespace common
