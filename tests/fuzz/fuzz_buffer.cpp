// Fuzzes the connection buffer against a plain std::string. Each input is a program of
// operations, one per byte pair (opcode, argument):
//   append k bytes | consume k bytes | read k bytes from a pipe with read_from (readv into
//   the spare space plus the 64 KiB stack spill) | clear | shrink_if_idle
// After every operation the buffer must hold exactly what the string holds.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "buffer.hpp"

namespace {

void require(bool ok, const char* what, std::size_t step) {
    if (ok) return;
    std::fprintf(stderr, "buffer fuzz finding at operation %zu: %s\n", step, what);
    std::abort();
}

// One pipe for the whole run, non-blocking so an empty read cannot hang.
int* pipe_fds() {
    static int fds[2] = {-1, -1};
    if (fds[0] < 0) {
        if (::pipe(fds) != 0) std::abort();
        ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
        ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    }
    return fds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    evloop::detail::Buffer buffer;
    std::string model;
    char next = 'a';
    auto bytes = [&](std::size_t n) {
        std::string s(n, '\0');
        for (auto& c : s)
            c = next = static_cast<char>(next == 'z' ? 'a' : next + 1);
        return s;
    };
    for (std::size_t i = 0; i + 1 < size; i += 2) {
        // Scaled so a few operations reach the interesting sizes (the 64 KiB spill).
        std::size_t arg = static_cast<std::size_t>(data[i + 1]) * (data[i] & 0x80 ? 1024 : 1);
        switch (data[i] % 5) {
            case 0: {
                auto s = bytes(arg);
                buffer.append(s);
                model += s;
                break;
            }
            case 1:
                buffer.consume(arg);
                model.erase(0, arg);
                break;
            case 2: {
                int* fds = pipe_fds();
                auto s = bytes(arg % 60000);  // under the pipe's capacity: written whole
                if (!s.empty())
                    require(::write(fds[1], s.data(), s.size()) == static_cast<long>(s.size()), "pipe write",
                            i);
                // A small spill, so reads cross from the spare space into it and back often.
                static char spill[4096];
                long n = 0;
                while (n < static_cast<long>(s.size())) {
                    std::size_t spilled = 0;
                    long got = buffer.read_from(fds[0], spill, sizeof spill, &spilled);
                    require(got > 0, "read_from found nothing although bytes were waiting", i);
                    require(spilled <= static_cast<std::size_t>(got), "more spilled than read", i);
                    buffer.append(std::string_view(spill, spilled));
                    n += got;
                }
                require(n == static_cast<long>(s.size()), "read_from read more than was written", i);
                model += s;
                break;
            }
            case 3:
                buffer.clear();
                model.clear();
                break;
            default:
                buffer.shrink_if_idle();
        }
        require(buffer.size() == model.size(), "size differs from the model", i);
        require(buffer.view() == model, "content differs from the model", i);
        require(buffer.empty() == model.empty(), "empty() is wrong", i);
    }
    return 0;
}
