#!/usr/bin/env bash
# Records the --trace output that the level- versus edge-triggered diagram is drawn from,
# and writes the diagram's source, diagrams/lt-vs-et.timeline, from those traces.
#
#   bash diagrams/traces/record.sh [BUILD_DIR]           record, then write the timeline
#   bash diagrams/traces/record.sh --check [BUILD_DIR]   record into a scratch folder and fail
#                                                        if the committed files differ
#   bash diagrams/traces/record.sh --timeline            only write the timeline from the traces
#
# BUILD_DIR defaults to build (it needs bin/stage02-echo and bin/stage03-echo). Then render
# the SVG: cmake --build build --target diagrams.
#
# The scenario is epoll(7)'s pipe example on a socket, with the same read size in both
# stages (64 KiB): the server is stopped (SIGSTOP) while the client connects and sends
# 100000 bytes, so all of them wait in the socket when it wakes (SIGCONT); the client reads
# its echo back, waits until the server sleeps in epoll_wait again, and closes. Nothing is
# left to timing, so a recording is the same every time. Lines starting with "# " are
# written by this script, at the moment they describe, into the server's trace.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=record
case ${1:-} in
    --check) mode=check; shift ;;
    --timeline) mode=timeline; shift ;;
esac
build=${1:-build}
bytes=100000
out=diagrams/traces
[ "$mode" = check ] && out=$(mktemp -d) && trap 'rm -rf "$out"' EXIT

# The server's state letter in /proc (S: asleep in a system call, here always epoll_wait).
state() { local s; read -r _ _ s _ <"/proc/$1/stat" && echo "$s"; }

# Bytes waiting unread in the server's end of the connection on PORT (from /proc/net/tcp).
queued() {
    local hex
    hex=$(awk -v p=":$(printf '%04X' "$1")" \
        'substr($2, length($2) - 4) == p && $4 == "01" { split($5, q, ":"); print q[2] }' /proc/net/tcp)
    echo $((16#${hex:-0}))
}

# Polls CONDITION (a command) every 10 ms for up to 10 s. read -t waits without a process.
exec {nap}<> <(:)
await() {
    local i
    for ((i = 0; i < 1000; i++)); do "$@" && return 0; read -r -t 0.01 -u "$nap" || true; done
    echo "record.sh: gave up waiting for: $*" >&2
    return 1
}
asleep() { [ "$(state "$1")" = S ]; }
all_queued() { [ "$(queued "$1")" -eq "$bytes" ]; }
# The server has closed its end of the connection on PORT (none ESTABLISHED or CLOSE_WAIT).
gone() {
    ! awk -v p=":$(printf '%04X' "$1")" \
        'substr($2, length($2) - 4) == p && ($4 == "01" || $4 == "08") { f = 1 } END { exit !f }' /proc/net/tcp
}

record() {
    local stage=$1 trace=$2 payload line port pid
    payload=$(mktemp)
    head -c "$bytes" /dev/zero >"$payload"
    : >"$trace"
    # Appending (>>) on both sides keeps this script's lines and the server's in order.
    # Only stdin, stdout and stderr open, so the fd numbers are those of a server run by hand.
    coproc server {
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
        done
        exec "$build/bin/stage$stage-echo" --listen tcp://127.0.0.1:0 --trace 2>>"$trace"
    }
    pid=$server_PID
    read -r line <&"${server[0]}"   # "listening on tcp://127.0.0.1:PORT"
    port=${line##*:}
    await asleep "$pid"
    kill -STOP "$pid"
    echo "# client: connects and sends $bytes bytes while the server is stopped" >>"$trace"
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    cat "$payload" >&3
    await all_queued "$port"
    kill -CONT "$pid"
    [ "$(head -c "$bytes" <&3 | wc -c)" -eq "$bytes" ] || { echo "stage $stage: short echo" >&2; return 1; }
    await asleep "$pid"
    echo "# client: has its echo back and closes (FIN)" >>"$trace"
    exec 3>&-
    await gone "$port"
    await asleep "$pid"
    echo "# SIGTERM" >>"$trace"
    kill -TERM "$pid"
    wait "$pid"
    rm -f "$payload"
}

# Writes the timeline: the two traces side by side, phase by phase (a phase starts at each
# "# client:" line), and within a phase one epoll_wait report beside the other.
timeline() {
    local t2=$1 t3=$2
    cat <<'EOF'
# Written by diagrams/traces/record.sh from stage02-100000.trace and stage03-100000.trace:
# do not edit. Every box on a server's lane is a line of its trace, in order.
title The same 100000 bytes, level-triggered (stage 02) and edge-triggered (stage 03), both reading 64 KiB at most
lane c2 client
lane s2 stage02-echo
lane c3 client
lane s3 stage03-echo
EOF
    awk '
        function statement(lane, line,   client) {
            client = (lane == "s2") ? "c2" : "c3"
            if (line ~ /^epoll_wait/) return "mark " lane ": `" line "`"
            if (line ~ /^write /) return lane " -> " client ": `" line "`"
            return "note " lane ": `" line "`"
        }
        # Reads both traces into phase p, report r, line i.
        FNR == 1 { f++; p = 0 }
        /^# SIGTERM/ { stop[f] = 1 }
        stop[f] { next }
        /^# client: / { p++; client[p] = substr($0, 11); r = 0; next }
        /^epoll_wait/ { r++ }
        { n[f, p, r]++; line[f, p, r, n[f, p, r]] = $0; if (r > reports[p]) reports[p] = r
          if (p > phases) phases = p }
        END {
            for (p = 1; p <= phases; p++) {
                print "c2 -> s2: " client[p]
                print "& c3 -> s3: " client[p]
                for (r = 0; r <= reports[p]; r++) {
                    m = n[1, p, r] > n[2, p, r] ? n[1, p, r] : n[2, p, r]
                    for (i = 1; i <= m; i++) {
                        a = ((1, p, r, i) in line) ? statement("s2", line[1, p, r, i]) : ""
                        b = ((2, p, r, i) in line) ? statement("s3", line[2, p, r, i]) : ""
                        if (a != "") print a
                        if (b != "") print (a != "" ? "& " : "") b
                    }
                }
            }
        }' "$t2" "$t3"
    cat <<'EOF'
caption Level-triggered: stage 02 reads once per report, and epoll_wait reports fd 7 again while bytes remain.
caption Edge-triggered: one report for the arrival, so stage 03 reads until EAGAIN; had it stopped after one read,
caption nothing would announce the rest (epoll(7), "Level-triggered and edge-triggered"). The FIN is a new arrival: a new edge.
EOF
}

if [ "$mode" != timeline ]; then
    for stage in 02 03; do
        record "$stage" "$out/stage$stage-$bytes.trace"
    done
fi
timeline "$out/stage02-$bytes.trace" "$out/stage03-$bytes.trace" >"$out/lt-vs-et.timeline"

if [ "$mode" = check ]; then
    status=0
    for f in stage02-$bytes.trace stage03-$bytes.trace; do
        diff -u "diagrams/traces/$f" "$out/$f" || { echo "diagrams/traces/$f: the stage now traces something else: record it again (bash diagrams/traces/record.sh)" >&2; status=1; }
    done
    diff -u diagrams/lt-vs-et.timeline "$out/lt-vs-et.timeline" ||
        { echo "diagrams/lt-vs-et.timeline: not what record.sh writes from the traces: run bash diagrams/traces/record.sh --timeline" >&2; status=1; }
    exit $status
fi
mv "$out/lt-vs-et.timeline" diagrams/lt-vs-et.timeline
[ "$mode" = record ] && echo "recorded $out/stage02-$bytes.trace and $out/stage03-$bytes.trace"
echo "wrote diagrams/lt-vs-et.timeline; render it with: cmake --build $build --target diagrams"
