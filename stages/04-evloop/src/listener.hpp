// The two kinds of listening socket a loop can own: an Acceptor for stream addresses
// (TCP, unix), which accepts and hands each connection to a loop, and a UdpEndpoint,
// which answers each datagram in place.
#pragma once

#include <cstdint>
#include <random>

#include "address.hpp"
#include "connection.hpp"
#include "loop.hpp"

namespace evloop::detail {

class Acceptor final : public IoHandler {
public:
    // keep_local: hand every connection to this loop (one SO_REUSEPORT socket per loop,
    // balanced by the kernel) instead of balancing across loops.
    Acceptor(Loop& loop, ListenSocket socket, int addr_index, bool keep_local);
    ~Acceptor() override;
    int start();
    void on_event(const PollEvent& event) override;

private:
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

class UdpEndpoint final : public IoHandler {
public:
    UdpEndpoint(Loop& loop, ListenSocket socket, int addr_index);
    ~UdpEndpoint() override;
    int start();
    void on_event(const PollEvent& event) override;

private:
    Loop& loop_;
    ListenSocket socket_;
    int addr_index_;
    Connection conn_;  // the Conn each datagram's data event sees
};

}  // namespace evloop::detail
