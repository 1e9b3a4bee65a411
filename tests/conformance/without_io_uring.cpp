// without-io-uring: runs a program with io_uring's system calls refused, the way a container's
// seccomp profile refuses them, so that a server's "io_uring is unavailable" path can be seen
// and tested on a machine that has io_uring.
//
//   without-io-uring [--errno EPERM|ENOSYS] PROGRAM [ARGS...]
//
// io_uring_setup, io_uring_enter and io_uring_register then fail with EPERM (what Docker's
// default profile answers) or ENOSYS (what a kernel without io_uring answers); every other
// system call is allowed. The filter is inherited across execve(2) and cannot be lifted.
// Exit status: PROGRAM's own, 2 for a usage error, 1 when the filter cannot be installed.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

int usage(const char* why) {
    std::fprintf(stderr,
                 "without-io-uring: %s\nusage: without-io-uring [--errno EPERM|ENOSYS] PROGRAM [ARGS...]\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    int refusal = EPERM;
    int first = 1;
    if (first < argc && std::string(argv[first]) == "--help") {
        std::printf("usage: without-io-uring [--errno EPERM|ENOSYS] PROGRAM [ARGS...]\n");
        return 0;
    }
    if (first < argc && std::string(argv[first]) == "--errno") {
        if (first + 1 >= argc) return usage("--errno needs EPERM or ENOSYS");
        std::string name = argv[first + 1];
        if (name == "EPERM")
            refusal = EPERM;
        else if (name == "ENOSYS")
            refusal = ENOSYS;
        else
            return usage(("--errno " + name + ": expected EPERM or ENOSYS").c_str());
        first += 2;
    }
    if (first >= argc) return usage("no program given");

    // io_uring's three calls have the same numbers on every architecture (425-427), so the
    // filter does not need to check which one it runs on (seccomp(2), "Pitfalls").
    const auto deny = static_cast<__u32>(SECCOMP_RET_ERRNO | (refusal & SECCOMP_RET_DATA));
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, deny),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    // Without privileges a filter may only be installed once the process promises never to
    // gain any (no set-user-ID programs): PR_SET_NO_NEW_PRIVS.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        std::fprintf(stderr, "without-io-uring: cannot install a seccomp filter: %s\n", std::strerror(errno));
        return 1;
    }
    ::execvp(argv[first], argv + first);
    std::fprintf(stderr, "without-io-uring: cannot run %s: %s\n", argv[first], std::strerror(errno));
    return 127;
}
