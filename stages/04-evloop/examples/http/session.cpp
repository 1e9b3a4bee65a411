#include "session.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "response.hpp"

namespace http {
namespace {

// Methods HTTP defines that this server does not allow (405, with Allow); any other
// method is one it does not know (501). RFC 9110 section 9.
bool is_known_method(std::string_view m) {
    for (std::string_view known : {"POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
        if (m == known) return true;
    return false;
}

}  // namespace

// ANCHOR: on-input
Session::Result Session::on_input(std::string_view in, std::string& out, std::size_t budget) {
    const Limits& limits = config_.limits;
    Result r;
    for (;;) {
        if (request_body_.active()) {  // the body of the request `waiting_` answers
            auto step = request_body_.consume(in.substr(r.consumed), limits);
            r.consumed += step.used;
            if (step.status) return fail(step.status, out), r.close = true, r;
            if (!step.done) return r;
            ++requests_;
            bool close = waiting_.head.close;
            emit(waiting_, out);
            waiting_ = Reply{};
            if (close && !body_pending()) return r.close = true, r;
        }
        if (body_pending() || out.size() >= budget) return r.stalled = true, r;
        auto rest = in.substr(r.consumed);
        if (rest.empty()) return r;
        HeadEnd end = scan_head(rest, limits, &scan_);
        if (end.kind == HeadEnd::incomplete) return r;
        if (end.kind == HeadEnd::error) return fail(end.status, out), r.close = true, r;
        Request request;
        int status = parse_head(rest.substr(scan_.start, end.length - scan_.start), &request);
        scan_ = {};
        r.consumed += end.length;
        if (status) return fail(status, out), r.close = true, r;

        Reply reply;
        prepare(request, &reply);
        if (request.body != Body::none) {
            if (request.body == Body::length && request.content_length > limits.body)
                return fail(413, out), r.close = true, r;
            // A client that waits for "100 Continue" before sending its body may never send
            // it once it has the final reply: the body's length cannot tell where the next
            // request starts, so the connection ends here (RFC 9110 section 10.1.1).
            if (request.expect_continue) {
                reply.head.close = true;
                emit(reply, out);
                return r.close = !body_pending(), r.stalled = body_pending(), r;
            }
            request_body_.start(request);
            waiting_ = std::move(reply);
            continue;
        }
        ++requests_;
        bool close = reply.head.close;
        emit(reply, out);
        if (close && !body_pending()) return r.close = true, r;
    }
}
// ANCHOR_END: on-input

void Session::prepare(const Request& request, Reply* reply) {
    Head& h = reply->head;
    h.close = request.close;
    h.keep_alive = request.keep_alive;
    bool head_only = request.method == "HEAD";
    int status = 0;
    if (request.method != "GET" && !head_only) status = is_known_method(request.method) ? 405 : 501;
    std::string_view raw, query;
    if (status == 0) status = decode_target(request.target, &path_, &raw, &query);
    Lookup found;
    if (status == 0) status = (found = config_.site->find(path_)).status;
    h.status = status;
    if (status == 200) {
        h.type = found.file.type;
        h.length = found.file.size;
        h.modified = found.file.modified;
        // Not modified since the client's copy: 304, no body (RFC 9110 section 13.1.3).
        // A date in the future is not a valid one, and is ignored.
        auto since = request.if_modified_since.empty() ? std::nullopt : parse_date(request.if_modified_since);
        if (since && found.file.modified <= *since && *since <= config_.clock->now()) {
            h.status = 304;
            h.type = {};
            h.has_length = false;
            return;
        }
        reply->send_body = !head_only;
        if (reply->send_body) reply->file = std::move(found.file);
        return;
    }
    if (status == 301) {
        reply->location = raw;
        reply->query = query;
    }
    Reply page = error_reply(status, h.close);
    h.type = page.head.type;
    h.length = page.head.length;
    h.allow = page.head.allow;
    reply->page = std::move(page.page);
    reply->send_body = !head_only;
}

// An error page, or a redirect's: a status, a short HTML body naming it.
Session::Reply Session::error_reply(int status, bool close) {
    Reply reply;
    reply.page = error_body(status);
    reply.head.status = status;
    reply.head.type = "text/html; charset=utf-8";
    reply.head.length = reply.page.size();
    reply.head.allow = status == 405;
    reply.head.close = close;
    reply.send_body = true;
    return reply;
}

void Session::emit(Reply& reply, std::string& out) {
    Head& h = reply.head;
    h.location = reply.location;
    h.query = reply.query;
    std::size_t mark = out.size();
    append_head(out, h, config_.clock->date());
    if (!reply.send_body) return;
    if (!reply.page.empty()) {
        out += reply.page;
    } else if (reply.file.size > config_.chunk) {
        body_ = std::move(reply.file);  // its head goes now, the body as output drains
        body_offset_ = 0;
        close_after_body_ = h.close;
    } else if (!read_file(reply.file, 0, static_cast<std::size_t>(reply.file.size), out)) {
        // Nothing of this reply has left yet, so it can still become an honest 500.
        out.resize(mark);
        Reply error = error_reply(500, h.close);
        error.head.keep_alive = h.keep_alive;
        emit(error, out);
    }
}

// A refusal that ends the connection: what follows the bad bytes cannot be trusted to
// start a request.
void Session::fail(int status, std::string& out) {
    request_body_ = BodyReader{};
    waiting_ = Reply{};
    Reply error = error_reply(status, true);
    emit(error, out);
}

bool Session::read_file(const File& file, std::uint64_t offset, std::size_t n, std::string& out) {
    std::size_t at = out.size();
    out.resize(at + n);
    while (n > 0) {
        ssize_t got = ::pread(file.fd.get(), out.data() + at, n, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;  // an I/O error, or the file shrank under us
        at += static_cast<std::size_t>(got);
        offset += static_cast<std::uint64_t>(got);
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

bool Session::pump(std::string& out, std::size_t max) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(max, body_.size - body_offset_));
    std::size_t mark = out.size();
    if (!read_file(body_, body_offset_, n, out)) {
        out.resize(mark);
        body_ = File{};
        return false;
    }
    body_offset_ += n;
    if (body_offset_ == body_.size) body_ = File{};
    return true;
}

}  // namespace http
