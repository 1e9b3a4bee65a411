// An Acceptor owns a listening stream socket (TCP or unix) on one loop, accepts, and hands
// each connection to a loop chosen by the balance (or keeps it, with one SO_REUSEPORT
// socket per loop, where the kernel balances).
#pragma once

#include <cstdint>
#include <random>

#include "address.hpp"
#include "loop.hpp"

namespace evloop::detail {

class Acceptor final : public IoHandler {
public:
    // keep_local: hand every connection to this loop (one SO_REUSEPORT socket per loop,
    // balanced by the kernel) instead of balancing across loops.
    Acceptor(Loop& loop, ListenSocket socket, int addr_index, bool keep_local);
    ~Acceptor() override;
    int start();
    void on_event(const PollEvent&) override { on_accept(); }

private:
    void on_accept();
    void on_fd_exhaustion(int error);
    void pause();
    Loop& choose();
    void hand_off(int fd, const sockaddr_storage& peer, socklen_t peer_len);

    Loop& loop_;
    ListenSocket socket_;
    int addr_index_;
    bool keep_local_;
    int spare_fd_ = -1;  // held in reserve for the EMFILE trick
    std::uint64_t resume_timer_ = 0;
    TimerQueue::TimePoint last_accept_ = TimerQueue::Clock::now();  // for EMFILE shedding
    std::minstd_rand rng_;
    unsigned next_ = 0;
};

// Picks a loop for a new connection: by Options::balance, starting from `counter`.
Loop& balanced_loop(Shared& shared, unsigned& counter, std::minstd_rand& rng);

}  // namespace evloop::detail
