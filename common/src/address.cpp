#include "common/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace common {
namespace {

struct SchemeInfo {
    std::string_view name;
    Scheme scheme;
};

constexpr SchemeInfo kSchemes[] = {
    {"tcp", Scheme::tcp},   {"tcp4", Scheme::tcp4}, {"tcp6", Scheme::tcp6},      {"udp", Scheme::udp},
    {"udp4", Scheme::udp4}, {"udp6", Scheme::udp6}, {"unix", Scheme::unix_path},
};

bool fail(std::string* error, std::string message) {
    if (error) *error = std::move(message);
    return false;
}

std::nullopt_t reject(std::string* error, std::string message) {
    fail(error, std::move(message));
    return std::nullopt;
}

// Exactly 1-5 decimal digits, no sign, no spaces, no leading zeros (is "0080" octal?),
// and at most 65535. We never hand the text to getaddrinfo(), which would wrap 70000 to 4464.
bool parse_port(std::string_view text, std::uint16_t* port, std::string* error) {
    if (text.empty()) return fail(error, "missing port");
    if (text.size() > 5) return fail(error, "port '" + std::string(text) + "' is out of range 0..65535");
    unsigned long value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return fail(error, "port '" + std::string(text) + "' is not a decimal number");
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (text.size() > 1 && text[0] == '0')
        return fail(error, "port '" + std::string(text) + "' has a leading zero");
    if (value > 65535) return fail(error, "port '" + std::string(text) + "' is out of range 0..65535");
    *port = static_cast<std::uint16_t>(value);
    return true;
}

bool parse_query(std::string_view query, Address* out, std::string* error) {
    // Only one option exists; anything else is a typo we should not ignore.
    if (query == "reuseport=true") {
        out->reuseport = true;
        return true;
    }
    if (query == "reuseport=false") return true;
    return fail(error, "unknown option '" + std::string(query) + "' (only reuseport=true|false)");
}

bool is_v4_scheme(Scheme s) {
    return s == Scheme::tcp4 || s == Scheme::udp4;
}
bool is_v6_scheme(Scheme s) {
    return s == Scheme::tcp6 || s == Scheme::udp6;
}

bool parse_inet(std::string_view rest, Address* out, std::string* error) {
    std::string_view host;
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos) return fail(error, "missing ']' after IPv6 host");
        host = rest.substr(1, close - 1);
        auto after = rest.substr(close + 1);
        if (after.empty() || after.front() != ':') return fail(error, "missing ':port' after ']'");
        port = after.substr(1);
        if (host.empty()) return fail(error, "empty host");
        in6_addr a6{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1)
            return fail(error, "'" + std::string(host) + "' is not a numeric IPv6 address");
        if (is_v4_scheme(out->scheme)) return fail(error, "an IPv6 host needs tcp, tcp6, udp or udp6");
        if (!parse_port(port, &out->port, error)) return false;
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_addr = a6;
        sin6.sin6_port = htons(out->port);
        std::memcpy(&out->storage, &sin6, sizeof sin6);
        out->length = sizeof sin6;
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a6, buf, sizeof buf);
        out->host = buf;
        return true;
    }
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail(error, "missing ':port'");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty()) return fail(error, "empty host");
    if (host.find(':') != std::string_view::npos)
        return fail(error, "IPv6 hosts must be written in brackets");
    if (host == "localhost") host = "127.0.0.1";
    in_addr a4{};
    // inet_pton, unlike inet_aton, accepts only the four-part dotted decimal form.
    if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1)
        return fail(error, "'" + std::string(host) + "' is not a numeric IPv4 address (or localhost)");
    if (is_v6_scheme(out->scheme)) return fail(error, "an IPv4 host needs tcp, tcp4, udp or udp4");
    if (!parse_port(port, &out->port, error)) return false;
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr = a4;
    sin.sin_port = htons(out->port);
    std::memcpy(&out->storage, &sin, sizeof sin);
    out->length = sizeof sin;
    out->host = std::string(host);
    return true;
}

bool parse_unix(std::string_view path, Address* out, std::string* error) {
    if (path.empty()) return fail(error, "empty unix socket path");
    sockaddr_un sun{};
    // sun_path must hold the path and its terminating NUL: 107 bytes on Linux, 103 on the BSDs.
    if (path.size() >= sizeof sun.sun_path)
        return fail(error, "unix socket path is " + std::to_string(path.size()) + " bytes; at most " +
                               std::to_string(sizeof sun.sun_path - 1) + " fit");
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.data(), path.size());
    std::memcpy(&out->storage, &sun, sizeof sun);
    out->length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    out->path = std::string(path);
    return true;
}

}  // namespace

std::string_view scheme_name(Scheme s) {
    for (const auto& info : kSchemes)
        if (info.scheme == s) return info.name;
    return "?";
}

bool Address::is_stream() const {
    return scheme == Scheme::tcp || scheme == Scheme::tcp4 || scheme == Scheme::tcp6 ||
           scheme == Scheme::unix_path;
}

std::string Address::url() const {
    if (is_unix()) return "unix://" + path;
    return format_url(scheme, reinterpret_cast<const sockaddr*>(&storage), length) +
           (reuseport ? "?reuseport=true" : "");
}

std::optional<Address> parse_address(std::string_view text, std::string* error) {
    for (char c : text)
        if (c == '\0' || c == '\r' || c == '\n')
            return reject(error, "address contains a NUL, CR or LF byte");
    auto sep = text.find("://");
    if (sep == std::string_view::npos)
        return reject(error, "'" + std::string(text) + "' is not of the form scheme://host:port");
    Address out;
    auto name = text.substr(0, sep);
    bool known = false;
    for (const auto& info : kSchemes) {
        if (info.name == name) {
            out.scheme = info.scheme;
            known = true;
        }
    }
    if (!known) return reject(error, "unknown scheme '" + std::string(name) + "'");
    auto rest = text.substr(sep + 3);
    if (out.is_unix()) {
        // A unix path may legitimately contain '?', so no options are parsed after it.
        if (!parse_unix(rest, &out, error)) return std::nullopt;
        return out;
    }
    auto q = rest.find('?');
    if (q != std::string_view::npos) {
        if (!parse_query(rest.substr(q + 1), &out, error)) return std::nullopt;
        rest = rest.substr(0, q);
    }
    if (!parse_inet(rest, &out, error)) return std::nullopt;
    return out;
}

std::string format_url(Scheme scheme, const sockaddr* sa, socklen_t len) {
    std::string prefix = std::string(scheme_name(scheme)) + "://";
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
        auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        return prefix + buf + ":" + std::to_string(ntohs(sin->sin_port));
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        return prefix + "[" + buf + "]:" + std::to_string(ntohs(sin6->sin6_port));
    }
    if (sa->sa_family == AF_UNIX) {
        auto* sun = reinterpret_cast<const sockaddr_un*>(sa);
        auto max = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
        return "unix://" + std::string(sun->sun_path, strnlen(sun->sun_path, max));
    }
    return prefix + "?";
}

std::string local_url(int fd, const Address& requested) {
    if (requested.is_unix()) return requested.url();
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return requested.url();
    return format_url(requested.scheme, reinterpret_cast<sockaddr*>(&ss), len) +
           (requested.reuseport ? "?reuseport=true" : "");
}

}  // namespace common
