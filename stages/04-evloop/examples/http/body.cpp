#include "body.hpp"

#include <algorithm>

namespace http {
namespace {

constexpr std::size_t kMaxSizeLine = 4096;  // a chunk size with its extensions

bool is_control(char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

}  // namespace

void BodyReader::start(const Request& request) {
    total_ = 0;
    line_ = 0;
    digits_ = 0;
    remaining_ = request.content_length;
    state_ = request.body == Body::length    ? State::length
             : request.body == Body::chunked ? State::size
                                             : State::idle;
}

BodyReader::Step BodyReader::fail(std::size_t used, int status) {
    state_ = State::idle;
    return {used, false, status};
}

// The chunk-size line has ended: a last chunk (size 0) leads to the trailer section.
int BodyReader::size_line_done(const Limits& limits) {
    if (digits_ == 0) return 400;
    line_ = 0;
    digits_ = 0;
    if (remaining_ == 0) {
        state_ = State::trailer;
        return 0;
    }
    if (remaining_ > limits.body || total_ > limits.body - remaining_) return 413;
    total_ += remaining_;
    state_ = State::data;
    return 0;
}

BodyReader::Step BodyReader::consume(std::string_view in, const Limits& limits) {
    std::size_t i = 0;
    while (i < in.size()) {
        if (state_ == State::length || state_ == State::data) {  // the bulk: skipped, never looked at
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - i));
            i += n;
            remaining_ -= n;
            if (remaining_ > 0) break;
            if (state_ == State::length) return state_ = State::idle, Step{i, true, 0};
            state_ = State::data_end;
            continue;
        }
        char c = in[i++];
        int status = 0;
        switch (state_) {
            case State::size:
            case State::size_ws:
            case State::ext:
                if (++line_ > kMaxSizeLine) return fail(i, 400);
                if (c == '\r') {
                    if (digits_ == 0) status = 400;
                    state_ = State::size_lf;
                } else if (c == '\n') {
                    status = size_line_done(limits);
                } else if (state_ == State::size && hex_value(c) >= 0) {
                    // More than 15 hex digits is more than a petabyte: over any limit.
                    if (++digits_ > 15) return fail(i, 413);
                    remaining_ = remaining_ * 16 + static_cast<unsigned>(hex_value(c));
                } else if (state_ != State::ext && digits_ > 0 && (c == ' ' || c == '\t')) {
                    state_ = State::size_ws;
                } else if (state_ != State::ext && digits_ > 0 && c == ';') {
                    state_ = State::ext;  // extensions: nobody here needs them, so they are skipped
                } else if (state_ != State::ext || is_control(c)) {
                    status = 400;
                }
                break;
            case State::size_lf:
                status = c == '\n' ? size_line_done(limits) : 400;
                break;
            case State::data_end:
                if (c == '\r' || c == '\n')
                    state_ = c == '\r' ? State::data_lf : State::size;
                else
                    status = 400;
                break;
            case State::data_lf:
            case State::field_lf:
                if (c != '\n') return fail(i, 400);
                state_ = state_ == State::data_lf ? State::size : State::trailer;
                break;
            case State::trailer:
                if (c == '\n') return state_ = State::idle, Step{i, true, 0};
                if (c == '\r') {
                    state_ = State::end_lf;
                    break;
                }
                state_ = State::field;
                [[fallthrough]];
            case State::field:
                if (++line_ > limits.head) return fail(i, 431);  // all trailer fields together
                if (c == '\n' || c == '\r')
                    state_ = c == '\n' ? State::trailer : State::field_lf;
                else if (is_control(c))
                    status = 400;
                break;
            case State::end_lf:
                if (c != '\n') return fail(i, 400);
                return state_ = State::idle, Step{i, true, 0};
            default:
                status = 400;  // idle: there is no body to read
        }
        if (status) return fail(i, status);
    }
    return {i, false, 0};
}

}  // namespace http
