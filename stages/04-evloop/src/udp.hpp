// UDP: a UdpEndpoint owns a bound datagram socket on one loop and answers each datagram
// in place. There is no connection: the Conn a data event sees stands for one datagram
// (a Datagram), whose reply buffer collects what the callback writes and leaves as one
// datagram to the sender. Nothing is kept per peer, so a flood of spoofed senders costs
// nothing; context() is a fresh, empty std::any for every datagram.
#pragma once

#include <any>
#include <string>
#include <string_view>

#include "address.hpp"
#include "loop.hpp"

namespace evloop::detail {

class Datagram {
public:
    Datagram(Loop& loop, int fd, int addr_index) : loop_(loop), fd_(fd), addr_index_(addr_index) {}
    void write(std::string_view bytes) {
        reply_.append(bytes);
        wrote_ = true;  // an empty write still sends an empty datagram
    }
    std::any& context() { return context_; }
    Loop& loop() { return loop_; }
    int fd() const { return fd_; }
    int addr_index() const { return addr_index_; }
    SocketAddress local() const;
    SocketAddress remote() const;

private:
    friend class UdpEndpoint;
    Loop& loop_;
    int fd_;
    int addr_index_;
    std::string reply_;
    bool wrote_ = false;
    std::any context_;
    sockaddr_storage peer_{};
    socklen_t peer_len_ = 0;
};

class UdpEndpoint final : public IoHandler {
public:
    UdpEndpoint(Loop& loop, ListenSocket socket, int addr_index);
    ~UdpEndpoint() override;
    int start();
    void on_event(const PollEvent& event) override;

private:
    void reply();

    Loop& loop_;
    ListenSocket socket_;
    Datagram datagram_;
};

}  // namespace evloop::detail
