// Running the application's callbacks. An exception that escapes one must not unwind
// through the loop: it would leave a connection half-updated, and on a loop thread it
// reaches std::terminate. So it is caught where the callback is called, kept for serve()
// to rethrow on its caller's thread, and the server is asked to stop gracefully; *threw
// tells the caller to give up on whatever the callback was about.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "shared.hpp"

namespace evloop::detail {

template <typename Fn, typename... Args>
auto guarded(Shared& shared, bool* threw, const Fn& fn, Args&&... args) {
    using Result = decltype(fn(std::forward<Args>(args)...));
    try {
        return fn(std::forward<Args>(args)...);
    } catch (...) {
        shared.fail(std::current_exception());
        if (threw) *threw = true;
        if constexpr (!std::is_void_v<Result>) return Result{};
    }
}

}  // namespace evloop::detail
