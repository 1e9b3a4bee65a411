#include "harness/clients.hpp"

#include <signal.h>

#include <algorithm>
#include <vector>

#include "harness/backlog.hpp"

namespace harness {

using namespace std::chrono_literals;

void reset_while_server_holds_echo(const common::Address& address, Server* server, std::uint64_t seed) {
    Conn conn = Conn::connect(address);
    auto filled = fill_until_held(conn, Pattern(seed), server, within(5s));
    half_close_and_settle(conn, filled.sent, server, within(2s));
    conn.reset();
}

void reset_before_server_reads(const common::Address& address, Server* server, std::uint64_t seed) {
    Conn holder = Conn::connect(address);
    round_trip(holder, Pattern(seed), 0, 64, within(2s));
    if (server) {
        server->signal(SIGSTOP);
        if (!server->wait_for_state('T', scaled(2s))) throw Failure("the server did not stop after SIGSTOP");
    }
    Conn late = Conn::connect(address);
    late.send_all(Pattern(seed).bytes(0, 32 * 1024), within(2s));
    late.shutdown_write();
    // Acknowledged FIN: the server's end is in CLOSE_WAIT.
    auto until = within(2s);
    while (late.unacked_bytes() > 0 && !until.expired())
        sleep_for(1ms);
    late.reset();
    if (server) server->signal(SIGCONT);
    holder.close();
}

void recv_around_urgent(Conn& conn, const Pattern& pattern, std::uint64_t offset, std::size_t n,
                        std::size_t before, std::uint8_t urgent, Deadline deadline) {
    std::vector<std::uint8_t> got;
    bool skipped = false;
    while (got.size() < n) {
        auto chunk = conn.recv_some(n - got.size() + (skipped ? 0 : 1), deadline);
        if (chunk.empty())
            throw Failure("EOF after " + std::to_string(got.size()) + " of " + std::to_string(n) + " bytes");
        for (std::uint8_t b : chunk) {
            if (!skipped && got.size() == before && b == urgent && b != pattern.at(offset + before)) {
                skipped = true;  // the urgent byte, inline at its place
                continue;
            }
            got.push_back(b);
        }
    }
    if (auto bad = pattern.first_mismatch(offset, got))
        throw Failure("wrong " + describe_wrong_byte(*bad, pattern.at(*bad), got[*bad - offset]) + " (" +
                      std::to_string(before) + " bytes were sent before the urgent byte)");
}

Script random_script(std::mt19937_64& rng) {
    auto pick = [&](std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
    };
    std::uint64_t size = 0;
    switch (pick(0, 9)) {
        case 0:
            break;  // nothing at all
        case 1:
        case 2:
        case 3:
        case 4:
            size = pick(1, 4096);
            break;
        case 5:
        case 6:
        case 7:
            size = pick(4097, 64 * 1024);
            break;
        default:
            size = pick(64 * 1024, 1024 * 1024);
    }
    Script s;
    auto send_in_pieces = [&](std::uint64_t total) {
        std::uint64_t left = total;
        while (left > 0) {
            std::uint64_t piece = left < 2 ? left : pick(1, left);
            s.steps.push_back(Step::send(piece));
            left -= piece;
            if (left > 0 && pick(0, 3) == 0)
                s.steps.push_back(Step::wait(std::chrono::milliseconds(pick(1, 30))));
        }
    };
    switch (pick(0, 5)) {
        case 0:  // the whole echo, then FIN
        case 1:
            send_in_pieces(size);
            s.steps.push_back(Step::expect(size));
            if (pick(0, 1)) s.steps.push_back(Step::wait(std::chrono::milliseconds(pick(1, 100))));
            s.steps.push_back(Step::close());
            break;
        case 2:  // half-close: every byte back, then a clean EOF
            send_in_pieces(size);
            s.steps.push_back(Step::shutdown_write());
            s.steps.push_back(Step::expect(size));
            s.steps.push_back(Step::expect_eof());
            break;
        case 3:  // reset part way, with whatever echo has come verified
            send_in_pieces(size / 2);
            if (pick(0, 1)) s.steps.push_back(Step::wait(std::chrono::milliseconds(pick(1, 20))));
            s.steps.push_back(Step::reset());
            break;
        case 4:  // abandon: send, never read the echo, close (the server then writes into a reset)
            s.drain = false;
            send_in_pieces(std::min<std::uint64_t>(size, 256 * 1024));
            s.steps.push_back(Step::close());
            break;
        default:  // connect and sit idle for a while, then FIN
            s.steps.push_back(Step::wait(std::chrono::milliseconds(pick(10, 500))));
            send_in_pieces(std::min<std::uint64_t>(size, 4096));
            s.steps.push_back(Step::expect(std::min<std::uint64_t>(size, 4096)));
            s.steps.push_back(Step::close());
    }
    return s;
}

}  // namespace harness
