#!/usr/bin/env bash
# Lets the conformance suite judge a server that does not follow the contract's start-up
# rules: one that takes its port in its own way and prints no "listening on" line.
#
#   echo-conformance --server tests/conformance/listening-on.sh -- SERVER [ARGS...]
#
# ARGS may hold {port}, which becomes the port to listen on. The suite appends
# "--listen tcp://127.0.0.1:0" (or, when it restarts a server, the port it had); this script
# takes that off, picks a free port below the kernel's ephemeral range when it is 0, execs
# SERVER with its stdout sent to stderr (the contract keeps stdout for the one line), and
# prints "listening on tcp://127.0.0.1:PORT" once the port is listening. Because it execs,
# the suite's signals, descriptor limits and /proc readings reach the server itself. Only
# one tcp://127.0.0.1 address can be served this way: anything else exits 2, as the
# contract asks of a bad --listen.
#
# For example, a Go echo server that takes its port as a flag:
#   echo-conformance --server tests/conformance/listening-on.sh -- ./echo-server --port {port}
set -euo pipefail

usage() {
    echo "listening-on.sh: $1" >&2
    echo "usage: listening-on.sh SERVER [ARGS with {port}...] --listen tcp://127.0.0.1:PORT" >&2
    exit 2
}

# The suite's --listen pairs are the last ones; a URL holding {port} is the server's own.
args=("$@")
urls=()
while n=${#args[@]}; [ "$n" -ge 3 ] && [ "${args[n - 2]}" = --listen ] && [[ ${args[n - 1]} != *'{port}'* ]]; do
    urls=("${args[n - 1]}" "${urls[@]}")
    unset 'args[n - 1]' 'args[n - 2]'
done
[ ${#urls[@]} -eq 1 ] || usage "expected SERVER [ARGS...] and one --listen URL, got ${#urls[@]} URLs"
url=${urls[0]}
[[ $url =~ ^tcp://127\.0\.0\.1:(0|[1-9][0-9]{0,4})$ ]] || usage "cannot serve --listen '$url': only tcp://127.0.0.1:PORT"
port=$((10#${BASH_REMATCH[1]}))
[ "$port" -le 65535 ] || usage "port out of range in '$url'"

# A listening socket on PORT, in /proc/net/tcp or tcp6 (state 0A), whatever address it is on.
listening() {
    awk -v p=":$(printf '%04X' "$1")" 'substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# Any socket at all with local port PORT.
in_use() {
    awk -v p=":$(printf '%04X' "$1")" 'substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

if [ "$port" -eq 0 ]; then
    # Below the ephemeral range, so no client socket of the suite can take it meanwhile.
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$low" -gt 11000 ] || low=32768
    for _ in $(seq 100); do
        port=$((10000 + RANDOM % (low - 10000)))
        in_use "$port" || break
    done
fi
args=("${args[@]//\{port\}/$port}")

# The announcer outlives the exec below: it waits for the server (which keeps this PID) to
# listen, says so on stdout, and gives up if the server exits first or takes over 30 s.
server_pid=$$
(
    exec {nap}<> <(:)
    for _ in $(seq 3000); do
        if listening "$port"; then
            echo "listening on tcp://127.0.0.1:$port"
            exit 0
        fi
        kill -0 "$server_pid" 2>/dev/null || exit 0
        read -r -t 0.01 -u "$nap" || true
    done
    echo "listening-on.sh: ${args[0]} did not listen on port $port within 30 s" >&2
) &
exec "${args[@]}" >&2
