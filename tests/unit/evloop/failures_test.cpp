// When the application's code fails: an exception escaping a callback stops the server
// gracefully and comes back out of serve() on its caller's thread, after every loop has
// stopped and every socket is closed; a loop thread that cannot start is an Error.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "common/address.hpp"
#include "doctest/doctest.h"
#include "support.hpp"

using evloop::Action;
using evloop::Conn;
using namespace t;

namespace {

bool refuses_connections(const std::string& url) {
    std::string why;
    auto a = common::parse_address(url, &why);
    REQUIRE(a);
    int fd = ::socket(a->family(), SOCK_STREAM, 0);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a->storage), a->length);
    int err = rc == 0 ? 0 : errno;
    ::close(fd);
    return err == ECONNREFUSED;
}

// Serves on a thread; returns what serve() threw (empty when it returned), once it ends.
struct Outcome {
    std::string thrown;
    bool returned = false;
};

}  // namespace

TEST_CASE("an exception in a callback stops the server and serve rethrows it once everything is closed") {
    for (int loops : {1, 2}) {
        for (auto backend : backends()) {
            CAPTURE(std::string(evloop::backend_name(backend)));
            CAPTURE(loops);
            std::mutex mutex;
            std::condition_variable cv;
            std::string url;
            Outcome outcome;
            Log log;
            evloop::Events ev;
            ev.serving = [&](const evloop::ServerInfo& info) {
                std::lock_guard lock(mutex);
                url = info.addrs[0];
                cv.notify_all();
                return Action::none;
            };
            ev.data = [&](Conn c, std::string_view in) -> Action {
                if (in == "boom") throw std::runtime_error("the application failed");
                c.write(in);
                return Action::none;
            };
            ev.closed = [&](Conn, int error) { log.add("closed " + std::to_string(error)); };
            evloop::Server server(ev, {.loops = loops, .backend = backend});
            std::thread runner([&] {
                try {
                    server.serve({"tcp://127.0.0.1:0"});
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    outcome.thrown = e.what();
                }
                std::lock_guard lock(mutex);
                outcome.returned = true;
                cv.notify_all();
            });
            {
                std::unique_lock lock(mutex);
                REQUIRE(cv.wait_for(lock, scaled(5000ms), [&] { return !url.empty(); }));
            }
            Client bystander(url);
            bystander.send("hi");
            CHECK(bystander.recv_exact(2) == "hi");
            Client culprit(url);
            culprit.send("boom");
            {
                std::unique_lock lock(mutex);
                CHECK(cv.wait_for(lock, scaled(5000ms), [&] { return outcome.returned; }));
            }
            runner.join();
            CHECK(outcome.thrown == "the application failed");
            CHECK(refuses_connections(url));                                  // the listener is closed
            CHECK(bystander.recv_until_eof() == "");                          // drained and closed
            CHECK(log.count("closed " + std::to_string(ECONNABORTED)) == 1);  // the culprit
            CHECK(log.count("closed 0") == 1);                                // the bystander
        }
    }
}

TEST_CASE("a loop thread that cannot start makes serve return an error") {
#if defined(EVLOOP_TEST_SANITIZED)
    MESSAGE("skipped: a sanitizer needs far more address space than the limit below leaves");
    return;
#else
    // In a child: with the address space capped, threads cannot get their stacks.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        long pages = 0;
        if (FILE* f = std::fopen("/proc/self/statm", "r")) {
            if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
            std::fclose(f);
        }
        rlimit as{};
        ::getrlimit(RLIMIT_AS, &as);
        // Room for the loops' buffers, but not for 64 thread stacks of 8 MiB each.
        as.rlim_cur =
            static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (96ul << 20);
        ::setrlimit(RLIMIT_AS, &as);
        int code = 3;
        try {
            evloop::Server server(evloop::Events{}, {.loops = 64});
            auto err = server.serve({"tcp://127.0.0.1:0"});
            code = err && err.message.find("thread") != std::string::npos ? 0 : 1;
        } catch (...) {
            code = 2;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
#endif
}
