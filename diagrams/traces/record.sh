#!/usr/bin/env bash
# Records the --trace output the level- versus edge-triggered timeline is drawn from:
# epoll(7)'s pipe scenario on a socket. A client writes 40000 bytes in one write, more
# than stage 02 reads per readiness report (16 KiB), reads the echo, and half-closes
# half a second later, so that the FIN arrives on its own rather than racing the data.
#
#   bash diagrams/traces/record.sh [BUILD_DIR]      (default: build; needs socat)
#
# Writes diagrams/traces/stage02-40000.trace, stage03-40000.trace and stage05-40000.trace.
# The timelines in diagrams/lt-vs-et.timeline (02, 03) and readiness-vs-completion.timeline
# (03, 05) quote these lines verbatim; after recording again, compare and update them by
# hand, then render (see diagrams/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
command -v socat >/dev/null || { echo "needs socat: apt-get install -y socat" >&2; exit 1; }

payload=$(mktemp)
trap 'rm -f "$payload"' EXIT
head -c 40000 /dev/zero >"$payload"   # cat writes it to the pipe in one write(2)

for stage in 02 03 05; do
    trace=diagrams/traces/stage$stage-40000.trace
    coproc server { exec "$build/bin/stage$stage-echo" --listen tcp://127.0.0.1:0 --trace 2>"$trace"; }
    read -r line <&"${server[0]}"                  # "listening on tcp://127.0.0.1:PORT"
    port=${line##*:}
    echoed=$( (cat "$payload"; sleep 0.5) | socat -b 65536 -t 2 - "TCP:127.0.0.1:$port" | wc -c)
    kill -TERM "$server_PID"
    wait "$server_PID" || true
    [ "$echoed" -eq 40000 ] || { echo "stage $stage echoed $echoed bytes, not 40000" >&2; exit 1; }
    echo "$trace:"
    cat "$trace"
done
