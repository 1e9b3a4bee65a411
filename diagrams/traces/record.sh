#!/usr/bin/env bash
# Records the --trace output that two diagrams are drawn from, and writes their sources from
# those traces:
#
#   lt-vs-et                 stage 02 (level-triggered epoll) beside stage 03 (edge-triggered)
#   readiness-vs-completion  stage 03 (readiness, epoll) beside stage 05 (completion, io_uring)
#
#   bash diagrams/traces/record.sh [BUILD_DIR] [DIAGRAM...]           record, then write the timelines
#   bash diagrams/traces/record.sh --check [BUILD_DIR] [DIAGRAM...]   record into a scratch folder and
#                                                                     fail if the committed files differ
#   bash diagrams/traces/record.sh --timeline [DIAGRAM...]            only write the timelines from the traces
#
# DIAGRAM is one of the two names above; the default is both. BUILD_DIR defaults to build (it
# needs bin/stageNN-echo of the stages drawn). Then render the SVGs: cmake --build build --target diagrams.
# A diagram whose stage cannot run here (not built, or stage 05 where the kernel or a container
# refuses io_uring) is left as it is, with a line that says why; when it was named, the script
# then exits 77, which CTest reports as skipped.
#
# The scenario is epoll(7)'s pipe example on a socket, and every stage gets the same one: the
# server is stopped (SIGSTOP) while the client connects and sends 100000 bytes, so all of them
# wait in the socket when it wakes (SIGCONT); the client reads its echo back, waits until the
# server sleeps again (in epoll_wait or io_uring_enter), and closes. Nothing is left to timing,
# so a recording is the same every time. Lines starting with "# " are written by this script,
# at the moment they describe, into the server's trace.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=record
case ${1:-} in
    --check) mode=check; shift ;;
    --timeline) mode=timeline; shift ;;
esac
build=build
diagrams=()
for arg in "$@"; do
    case $arg in
        lt-vs-et | readiness-vs-completion) diagrams+=("$arg") ;;
        *) build=$arg ;;
    esac
done
named=${#diagrams[@]}
[ "$named" -gt 0 ] || diagrams=(lt-vs-et readiness-vs-completion)
bytes=100000
# Traces are recorded, and timelines written, here first: a failed run leaves the committed ones alone.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The stages each diagram is drawn from: the left lane's, then the right lane's.
stages_of() { case $1 in lt-vs-et) echo 02 03 ;; readiness-vs-completion) echo 03 05 ;; esac; }

# The server's state letter in /proc (S: asleep in a system call, T: stopped by a signal).
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
stopped() { [ "$(state "$1")" = T ]; }
exited() { ! [ -e "/proc/$1" ] || [ "$(state "$1")" = Z ]; }
said_or_exited() { [ -s "$1" ] || exited "$2"; }
all_queued() { [ "$(queued "$1")" -eq "$bytes" ]; }
# The server has closed its end of the connection on PORT (none ESTABLISHED or CLOSE_WAIT).
gone() {
    ! awk -v p=":$(printf '%04X' "$1")" \
        'substr($2, length($2) - 4) == p && ($4 == "01" || $4 == "08") { f = 1 } END { exit !f }' /proc/net/tcp
}

# Records stage NN's trace into FILE. Where the stage cannot run here (not built, or refused
# io_uring) it records nothing and says why in $unavailable.
record() {
    local stage=$1 trace=$2 payload said line port pid
    unavailable=""
    if [ ! -x "$build/bin/stage$stage-echo" ]; then
        unavailable="$build/bin/stage$stage-echo is not built"
        return 0
    fi
    payload=$(mktemp)
    said=$(mktemp)
    head -c "$bytes" /dev/zero >"$payload"
    : >"$trace"
    # Appending (>>) on both sides keeps this script's lines and the server's in order.
    # Only stdin, stdout and stderr open, so the fd numbers are those of a server run by hand.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
        done
        exec "$build/bin/stage$stage-echo" --listen tcp://127.0.0.1:0 --trace >"$said" 2>>"$trace"
    ) &
    pid=$!
    await said_or_exited "$said" "$pid"
    read -r line <"$said" || true # "listening on tcp://127.0.0.1:PORT"
    rm -f "$said"
    if [ "${line#listening on }" = "$line" ]; then
        wait "$pid" || true
        rm -f "$payload"
        if grep -q "io_uring is unavailable here" "$trace"; then
            unavailable="stage $stage cannot run on this machine: $(cat "$trace")"
            return 0
        fi
        echo "record.sh: stage $stage did not start: $(cat "$trace")" >&2
        return 1
    fi
    port=${line##*:}
    await asleep "$pid"
    kill -STOP "$pid"
    # A signal takes effect when the process next runs: connecting before it has would let the
    # server see the connection first (io_uring_enter finds it before it notices the signal).
    await stopped "$pid"
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

# The two traces side by side, phase by phase (a phase starts at each "# client:" line; what
# comes before the first is set-up), and within a phase one turn of a loop beside the other's
# (a turn starts at each epoll_wait or io_uring_enter). A trace line matching MARKS is drawn
# highlighted, one starting with "write " or "send " as an arrow to the client, any other as
# a note. What the servers print after the SIGTERM is left out.
side_by_side() {
    local left=$1 right=$2 marks_left=$3 marks_right=$4
    awk -v ml="$marks_left" -v mr="$marks_right" -v l="s$5" -v r="s$6" '
        function statement(lane, line,   client, marks) {
            client = "c" substr(lane, 2)
            marks = (lane == l) ? ml : mr
            if (line ~ marks) return "mark " lane ": `" line "`"
            if (line ~ /^(write|send) /) return lane " -> " client ": `" line "`"
            return "note " lane ": `" line "`"
        }
        # Reads both traces into phase p, turn t, line i.
        FNR == 1 { f++; p = 0; t = 0 }
        /^# SIGTERM/ { stop[f] = 1 }
        stop[f] { next }
        /^# client: / { p++; client[p] = substr($0, 11); t = 0; next }
        /^(epoll_wait|io_uring_enter)/ { t++ }
        { n[f, p, t]++; line[f, p, t, n[f, p, t]] = $0; if (t > turns[p]) turns[p] = t
          if (p > phases) phases = p }
        END {
            for (p = 0; p <= phases; p++) {
                if (p > 0) {
                    print "c" substr(l, 2) " -> " l ": " client[p]
                    print "& c" substr(r, 2) " -> " r ": " client[p]
                }
                for (t = 0; t <= turns[p]; t++) {
                    m = n[1, p, t] > n[2, p, t] ? n[1, p, t] : n[2, p, t]
                    for (i = 1; i <= m; i++) {
                        a = ((1, p, t, i) in line) ? statement(l, line[1, p, t, i]) : ""
                        b = ((2, p, t, i) in line) ? statement(r, line[2, p, t, i]) : ""
                        if (a != "") print a
                        if (b != "") print (a != "" ? "& " : "") b
                    }
                }
            }
        }' "$left" "$right"
}

# How many lines of TRACE before the SIGTERM match MARKS.
count() { sed '/^# SIGTERM/q' "$1" | grep -cE "$2" || true; }

lt_vs_et() {
    cat <<'EOF'
# Written by diagrams/traces/record.sh from stage02-100000.trace and stage03-100000.trace:
# do not edit. Every box on a server's lane is a line of its trace, in order.
title The same 100000 bytes, level-triggered (stage 02) and edge-triggered (stage 03), both reading 64 KiB at most
lane c2 client
lane s2 stage02-echo
lane c3 client
lane s3 stage03-echo
EOF
    side_by_side "$1" "$2" '^epoll_wait' '^epoll_wait' 2 3
    cat <<'EOF'
caption Level-triggered: stage 02 reads once per report, and epoll_wait reports fd 7 again while bytes remain.
caption Edge-triggered: one report for the arrival, so stage 03 reads until EAGAIN; had it stopped after one read,
caption nothing would announce the rest (epoll(7), "Level-triggered and edge-triggered"). The FIN is a new arrival: a new edge.
EOF
}

readiness_vs_completion() {
    # What each lane highlights: its system calls.
    local calls3='^(epoll_wait|accept|read|write|shutdown|close) ' calls5='^(io_uring_enter:|shutdown |close )'
    local n3 n5
    n3=$(count "$1" "$calls3")
    n5=$(count "$2" "$calls5")
    cat <<'EOF'
# Written by diagrams/traces/record.sh from stage03-100000.trace and stage05-100000.trace:
# do not edit. Every box on a server's lane is a line of its trace, in order. Highlighted
# boxes are system calls; plain ones are what the server does in between (stage 05: the
# requests it queues and the completions it reads, in memory it shares with the kernel).
title The same 100000 bytes through readiness (stage 03, epoll) and completion (stage 05, io_uring)
lane c3 client
lane s3 stage03-echo
lane c5 client
lane s5 stage05-echo
EOF
    # Stage 03's writes are system calls too, drawn as arrows to the client like stage 05's sends.
    side_by_side "$1" "$2" '^(epoll_wait|accept|read|shutdown|close) ' "$calls5" 3 5
    cat <<EOF
caption Readiness: epoll says a socket is ready, and the server makes each call itself: $n3 system calls, the writes drawn as
caption arrows. Completion: the server queues requests, and each io_uring_enter submits them and waits: $n5 calls (the SIGSTOP
caption cut the first one's wait short); its arrows are completions, bytes the kernel sent on its own. One multishot receive took
caption all 100000 bytes, into four ring buffers the kernel chose; the echo went out from buffer 0 and then, for the three
caption filled while that send was in flight, from a copy.
EOF
}

drawn=()
for diagram in "${diagrams[@]}"; do
    read -r left right <<<"$(stages_of "$diagram")"
    traces=diagrams/traces # --timeline draws from the committed traces
    if [ "$mode" != timeline ]; then
        traces=$scratch
        for stage in $left $right; do
            [ -s "$scratch/stage$stage-$bytes.trace" ] && continue # stage 03 is in both
            record "$stage" "$scratch/stage$stage-$bytes.trace"
            [ -z "$unavailable" ] || break
        done
        if [ -n "$unavailable" ]; then
            # Named on the command line (as the tests do): skipped, as CTest reports exit 77.
            echo "record.sh: $diagram not recorded: $unavailable" >&2
            [ "$named" -eq 0 ] || exit 77
            continue
        fi
    fi
    "${diagram//-/_}" "$traces/stage$left-$bytes.trace" "$traces/stage$right-$bytes.trace" \
        >"$scratch/$diagram.timeline"
    drawn+=("$diagram")
done

if [ "$mode" = check ] && [ ${#drawn[@]} -eq 0 ]; then
    echo "record.sh: nothing could be checked here" >&2
    exit 77
fi
status=0
for diagram in "${drawn[@]}"; do
    read -r left right <<<"$(stages_of "$diagram")"
    if [ "$mode" = check ]; then
        for stage in $left $right; do
            f=stage$stage-$bytes.trace
            diff -u "diagrams/traces/$f" "$scratch/$f" ||
                { echo "diagrams/traces/$f: the stage now traces something else: record it again (bash diagrams/traces/record.sh $diagram)" >&2; status=1; }
        done
        diff -u "diagrams/$diagram.timeline" "$scratch/$diagram.timeline" ||
            { echo "diagrams/$diagram.timeline: not what record.sh writes from the traces: run bash diagrams/traces/record.sh --timeline $diagram" >&2; status=1; }
        continue
    fi
    if [ "$mode" = record ]; then
        for stage in $left $right; do
            cp "$scratch/stage$stage-$bytes.trace" diagrams/traces/
        done
        echo "recorded diagrams/traces/stage$left-$bytes.trace and stage$right-$bytes.trace"
    fi
    mv "$scratch/$diagram.timeline" "diagrams/$diagram.timeline"
    echo "wrote diagrams/$diagram.timeline"
done
[ "$mode" = check ] || echo "render with: cmake --build $build --target diagrams"
exit $status
