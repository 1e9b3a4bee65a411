#include "session.hpp"

#include "reply.hpp"

namespace redis {

Session::Session(Server& server) : server_(server), parser_(server.limits) {
    client_.id = server.next_client_id.fetch_add(1, std::memory_order_relaxed);
}

// ANCHOR: feed
Session::Result Session::feed(std::string_view in, std::string& out, std::size_t budget) {
    server_.keyspace.set_now(server_.clock());
    std::size_t done = 0;
    for (;;) {
        if (out.size() >= budget) return {done, Next::output_full};
        switch (parser_.parse(in.substr(done))) {
            case RequestParser::Status::incomplete:
                return {done, Next::more_input};
            case RequestParser::Status::error:
                // Nothing after a protocol error can be trusted to start a request: answer
                // it, drop the rest of the input, and close once the replies are out.
                reply::error(out, parser_.error());
                return {in.size(), Next::close};
            case RequestParser::Status::complete:
                break;
        }
        if (!parser_.args().empty()) {  // an empty line or "*0" asks nothing and gets nothing
            Call call{server_, server_.keyspace, client_, out, parser_.args()};
            execute(call);
        }
        done += parser_.size();
        parser_.next();
        if (client_.close_after_reply) return {done, Next::close};
    }
}
// ANCHOR_END: feed

}  // namespace redis
