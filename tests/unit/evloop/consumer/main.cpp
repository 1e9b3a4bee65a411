// Echo through an installed evloop: serve on a free port, connect, check the echo, stop.
// Exit status 0 on success.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <evloop/evloop.hpp>
#include <string>
#include <thread>

int main() {
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
