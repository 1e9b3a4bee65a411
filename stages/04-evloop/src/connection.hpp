// One stream connection (TCP or unix) on its loop, accepted or dialled. A connection is
// in exactly one state; every transition is made in state.cpp.
//
//        dial()                                                accept
//          |                                                      |
//     connecting --fails--> Events::dial_failed (never opened)    |
//          | connected                                            |
//          +---------------------------> open <-------------------+
//                                          |
//      shutdown_write(): shutting  <-------+-------> the peer's FIN: half_closed
//        | output flushed, FIN             |           (Events::eof)
//        v                                 |               |
//      write_shut                          |               | the application closes
//        | the peer's FIN                  | the app's      v
//        v                                 | close, stop,  closing
//      closed                              | idle timeout,  ^
//                                          | max_input      |
//                                          +---------> closing
//                                                      | output flushed: FIN
//                                                      | (the peer's FIN already seen: closed)
//                                                      v
//                                                   lingering: read and discard until
//                                                      | the peer's FIN or linger_timeout
//                                                      v
//                                                    closed
//
//   open or half_closed --Action::detach--> detaching --flushed--> handed over
//   any state --read or write error, reset(), close_timeout, max_output--> closed
//
// The lingering step is what makes "flush, then close" safe: close(2) on a socket with
// unread input sends a reset and throws away whatever of the reply the kernel had not
// sent yet (RFC 9112, 9.6), so the write side is shut first and the input drained.
#pragma once

#include <any>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

#include "address.hpp"
#include "buffer.hpp"
#include "guard.hpp"
#include "loop.hpp"

namespace evloop::detail {

// What a Handle shares with its connection: the output bound across threads.
struct Remote {
    std::atomic<std::size_t> queued{0};   // bytes in Handle::write tasks not yet run
    std::atomic<std::size_t> pending{0};  // the connection's queued output, as of its last change
    std::size_t limit = 0;                // Options::max_output
    std::atomic<bool> closed{false};      // set when the connection ends: later calls return false
};

class Connection final : public IoHandler {
public:
    enum class State : std::uint8_t {
        connecting,
        open,
        shutting,
        write_shut,
        half_closed,
        closing,
        lingering,
        detaching,
        closed
    };

    Connection(Loop& loop, int fd, int addr_index);
    ~Connection() override;

    // Entry points: an accepted socket, or a dial in progress (dial.cpp).
    void open_accepted(const sockaddr_storage& peer, socklen_t peer_len);
    void start_connecting(const common::Address& target, DialOptions options);
    void on_event(const PollEvent& event) override;

    // What Conn and Handle call (conn.cpp, handle.cpp). A call on a connection other than
    // the one whose callback is running is settled once that callback returns (touch()).
    void write(std::string_view bytes);
    void keep(std::size_t n) { keep_ = n; }
    void request_close(int reason = 0);
    void shutdown_write();
    void reset();
    void set_paused(bool paused) { paused_ = paused; }
    void wake();
    void run_app(const std::function<void(Conn)>& fn);
    void fail(int error) {
        if (!failed_) failed_ = error;
    }
    void touch() {
        if (loop_.active() != this) loop_.settle_later(fd_, generation_);
    }
    // After the application ran: carry out its Action, send what it wrote, move to the
    // state that follows, and tell the loop what to watch. The one place states change.
    void settle(Action action = Action::none);
    void begin_stop();
    void force_close(int error_if_unsent);
    std::uint64_t add_app_timer(Duration delay, std::function<void(Conn)> fn);
    bool cancel_app_timer(std::uint64_t id);
    std::shared_ptr<Remote> remote_state();

    Loop& loop() { return loop_; }
    int fd() const { return fd_; }
    int addr_index() const { return addr_index_; }
    std::uint64_t generation() const { return generation_; }
    State state() const { return state_; }
    bool is_open() const { return state_ != State::closed && state_ != State::connecting; }
    bool accepts_writes() const;
    std::any& context();
    SocketAddress local() const;
    SocketAddress remote() const;
    std::size_t pending() const { return output_.size(); }

private:
    // What only some connections need, allocated on first use, so that an idle echo
    // connection costs little more than its fd.
    struct Extra {
        std::any context;
        std::vector<std::uint64_t> app_timers;        // Conn::after ids still pending
        std::shared_ptr<Remote> remote;               // created by the first handle()
        CompactAddress local;                         // when it is not the listener's own address
        common::Scheme scheme = common::Scheme::tcp;  // a dialled connection's
    };

    // connection.cpp: opening and the read side.
    void begin();
    void apply_options(const ConnOptions& options);
    void on_readable();
    void on_writable();
    void deliver(std::string_view in, bool from_spill);
    void discard_input();
    void on_eof();
    void on_hangup(int error);
    // output.cpp: the write side.
    std::size_t send_direct(std::string_view bytes);
    void flush();
    void on_output_change();
    // state.cpp: transitions, the ways out, timers.
    void advance();
    unsigned wanted() const;
    void enter(State next);
    void arm_idle_timer();
    void arm_close_timer();
    void close_conn(int error, bool abortive);
    void detach_now();
    void release();
    // dial.cpp
    void finish_connecting(int error);
    void fail_dial(int error);

    common::Scheme scheme() const;
    Extra& extra();

    // Runs an application callback about this connection, marked as the active one; an
    // exception that escapes it closes this connection (and stops the server, guard.hpp).
    template <typename Fn, typename... Args>
    auto invoke(const Fn& fn, Args&&... args) {
        Connection* outer = loop_.set_active(this);
        bool threw = false;
        struct Restore {
            Loop& loop;
            Connection* outer;
            ~Restore() { loop.set_active(outer); }
        } restore{loop_, outer};
        if constexpr (std::is_void_v<decltype(fn(Conn(this), std::forward<Args>(args)...))>) {
            guarded(loop_.shared(), &threw, fn, Conn(this), std::forward<Args>(args)...);
            if (threw) failed_ = ECONNABORTED;
        } else {
            auto result = guarded(loop_.shared(), &threw, fn, Conn(this), std::forward<Args>(args)...);
            if (threw) failed_ = ECONNABORTED;
            return result;
        }
    }

    Loop& loop_;
    int fd_;
    int addr_index_;                   // -1: dialled
    State state_ = State::connecting;  // accepted ones too, until begin()
    bool peer_eof_ = false;            // read returned 0
    bool paused_ = false;              // the application paused reading
    bool throttled_ = false;           // reading paused: output above high water, not yet back to low
    bool pause_on_high_ = true;        // ConnOptions::pause_on_high_water
    bool above_low_ = false;           // for the drained edge
    bool unflushed_ = false;           // for the flushed edge
    int failed_ = 0;                   // an error met inside a callback, acted on by settle()
    int reason_ = 0;                   // what closed() reports if the close ends orderly
    std::uint64_t generation_;
    CompactAddress remote_;
    Buffer input_;   // kept input only: new bytes are read into the loop's buffer
    Buffer output_;  // what the kernel has not taken yet
    std::size_t keep_ = 0;
    TimerQueue::TimePoint last_active_{};
    std::uint64_t idle_timer_ = 0;
    std::uint64_t state_timer_ = 0;  // close_timeout, linger_timeout or the dial timeout
    std::unique_ptr<Extra> extra_;
};

// An accepted, non-blocking socket: opens a connection on `loop`, which owns it from now on.
void adopt(Loop& loop, int fd, int addr_index, const sockaddr_storage& peer, socklen_t peer_len);
// Dials target from `loop` (dial.cpp).
void dial(Loop& loop, const common::Address& target, DialOptions options);

}  // namespace evloop::detail
