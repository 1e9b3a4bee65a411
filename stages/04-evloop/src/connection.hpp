// One stream connection (TCP or unix) on its loop, or the stand-in a UDP socket uses
// for each datagram. The life of a stream connection:
//
//   open --data--> open --peer EOF--> half-closed --app closes--+
//     |                                                         v
//     +--Action::close / detach / stop-------------> flush output, then shutdown(SHUT_WR)
//     |                                              and close (or hand over the socket)
//     +--read or write error, idle timeout, output cap, flush or half-close timeout--> closed
//
// Reading pauses while pending output is above the high water mark and resumes below
// the low one, so a peer that sends without reading cannot grow the server.
#pragma once

#include <any>
#include <cstdint>
#include <string>

#include "buffer.hpp"
#include "loop.hpp"

namespace evloop::detail {

class Connection final : public IoHandler {
public:
    enum class Ending { none, close, detach };

    Connection(Loop& loop, int fd, int addr_index, std::uint64_t generation, SocketAddress remote, bool udp);
    ~Connection() override;

    void open();  // applies options, fires opened, starts watching
    void on_event(const PollEvent& event) override;

    // What Conn and Handle call.
    void write(std::string_view bytes);
    void request_close();
    void wake();
    void after_app_call(Action action = Action::none);  // settle state after the app ran
    void begin_stop();
    void close_now(int error);

    // UDP: the datagram's sender and the reply written while handling it.
    void set_remote(const SocketAddress& remote) { remote_ = remote; }
    bool udp_reply(std::string_view* reply) const;  // false when nothing was written
    void udp_reset();

    Loop& loop() { return loop_; }
    int fd() const { return fd_; }
    int addr_index() const { return addr_index_; }
    std::uint64_t generation() const { return generation_; }
    bool udp() const { return udp_; }
    bool is_open() const { return open_; }
    std::any& context() { return context_; }
    const SocketAddress& local();
    const SocketAddress& remote() const { return remote_; }
    std::size_t pending() const { return output_.size(); }

private:
    void on_readable();
    void on_eof();
    void flush();
    void update_interest();
    void finish_if_flushed();
    void detach_now();
    void arm_idle_timer();
    void arm_close_timer();
    void apply_options(const ConnOptions& options);
    void unregister();

    Loop& loop_;
    int fd_;
    int addr_index_;
    std::uint64_t generation_;
    SocketAddress local_;
    bool have_local_ = false;
    SocketAddress remote_;
    bool udp_;
    std::any context_;
    ConnOptions options_;
    Buffer input_;
    Buffer output_;

    bool open_ = false;
    bool peer_eof_ = false;
    bool paused_ = false;         // reading paused by backpressure
    bool above_low_ = false;      // for the drained edge
    bool flush_pending_ = false;  // for the flushed edge
    bool udp_wrote_ = false;
    Ending ending_ = Ending::none;
    unsigned interest_ = kNone;
    std::uint64_t idle_timer_ = 0;
    std::uint64_t close_timer_ = 0;
    TimerQueue::TimePoint last_active_{};
};

}  // namespace evloop::detail
