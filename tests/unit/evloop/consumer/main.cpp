// Echo through an installed evloop: serve on a free port, connect, check the echo, stop.
// Exit status 0 on success. Built as C++17, the standard the header asks for, and with the
// version the package reported (find_package or pkg-config) as EVLOOP_PACKAGE_VERSION: the
// header's version macros, the package and the library that runs must all agree.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <evloop/evloop.hpp>
#include <string>
#include <thread>

#ifndef EVLOOP_PACKAGE_VERSION
#error "build with -DEVLOOP_PACKAGE_VERSION=\"X.Y.Z\", the version find_package or pkg-config reported"
#endif
static_assert(__cplusplus == 201703L, "built as C++17: the package must not ask for a later standard");

#define EVLOOP_CONSUMER_TEXT(x) #x
#define EVLOOP_CONSUMER_STRING(x) EVLOOP_CONSUMER_TEXT(x)

// The parts of the version agree with the string, which is the package's, which is the
// library's: a program built against one evloop runs with that evloop.
bool versions_agree() {
    const std::string parts = EVLOOP_CONSUMER_STRING(EVLOOP_VERSION_MAJOR) "." EVLOOP_CONSUMER_STRING(
        EVLOOP_VERSION_MINOR) "." EVLOOP_CONSUMER_STRING(EVLOOP_VERSION_PATCH);
    bool ok = parts == EVLOOP_VERSION_STRING &&
              std::string(EVLOOP_PACKAGE_VERSION) == EVLOOP_VERSION_STRING &&
              std::string(evloop::version()) == EVLOOP_VERSION_STRING;
    std::printf("evloop-consumer: header %s (%s), package %s, library %s: %s\n", EVLOOP_VERSION_STRING,
                parts.c_str(), EVLOOP_PACKAGE_VERSION, evloop::version(), ok ? "ok" : "MISMATCH");
    return ok;
}

int main() {
    if (!versions_agree()) return 1;
    evloop::Events events;
    evloop::Server* server = nullptr;
    int port = 0;
    std::thread client;
    bool ok = false;
    events.serving = [&](const evloop::ServerInfo& info) {
        port = std::stoi(info.addrs.at(0).substr(info.addrs[0].rfind(':') + 1));
        client = std::thread([&] {
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in sin{};
            sin.sin_family = AF_INET;
            sin.sin_port = htons(static_cast<std::uint16_t>(port));
            sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            char buf[5] = {};
            if (::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0 &&
                ::write(fd, "hello", 5) == 5)
                ok = ::recv(fd, buf, 5, MSG_WAITALL) == 5 && std::memcmp(buf, "hello", 5) == 0;
            ::close(fd);
            server->stop();
        });
        return evloop::Action::none;
    };
    events.data = [](evloop::Conn c, std::string_view in) {
        c.write(in);
        return evloop::Action::none;
    };
    evloop::Server s(events, {});
    server = &s;
    auto error = s.serve({"tcp://127.0.0.1:0"});
    if (client.joinable()) client.join();
    if (error) std::fprintf(stderr, "evloop-consumer: %s\n", error.message.c_str());
    std::printf("evloop-consumer: echo %s\n", ok ? "ok" : "FAILED");
    return !error && ok ? 0 : 1;
}
