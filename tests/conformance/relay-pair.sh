#!/usr/bin/env bash
# Lets the conformance suite judge a relay: starts a backend server, waits for its
# "listening on" line, then execs the relay in front of it, so that to the suite the pair
# is one echo server.
#
#   echo-conformance --server tests/conformance/relay-pair.sh -- BACKEND [ARGS...] -- RELAY [ARGS...]
#
# {backend} in the relay's ARGS becomes the backend's URL. The suite's own arguments
# (--listen, --max-conns, ...) come last and so go to the relay, which is what the suite
# then signals, limits and measures: this script execs it and it keeps the PID. The
# backend listens on tcp://127.0.0.1:0 and is killed when the relay exits, however it
# exits (PR_SET_PDEATHSIG, set by setpriv(1) from util-linux). Both get the descriptor
# limits the suite sets, so a relay, which holds two descriptors per client, runs out of
# them first.
#
# For example, stage 04's relay in front of stage 04's echo server (what CTest runs):
#   echo-conformance --server tests/conformance/relay-pair.sh \
#       -- build/bin/stage04-echo -- build/bin/stage04-proxy --to {backend}
set -euo pipefail

usage() {
    echo "relay-pair.sh: $1" >&2
    echo "usage: relay-pair.sh BACKEND [ARGS...] -- RELAY [ARGS with {backend}...]" >&2
    exit 2
}

backend=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    backend+=("$1")
    shift
done
[ $# -gt 0 ] || usage "expected -- between the backend's command and the relay's"
shift
[ ${#backend[@]} -gt 0 ] || usage "no backend command before --"
[ $# -gt 0 ] || usage "no relay command after --"
if ! command -v setpriv >/dev/null 2>&1; then
    echo "relay-pair.sh: setpriv not found (Debian: apt-get install util-linux)" >&2
    exit 1
fi

# The backend's parent is this process, which becomes the relay below: its death signal
# follows the relay. Its stdout comes here, for the one line the contract promises.
exec {from_backend}< <(exec setpriv --pdeathsig KILL -- "${backend[@]}" --listen tcp://127.0.0.1:0)
url=
while IFS= read -r -t 10 -u "$from_backend" line; do
    if [[ $line == "listening on "* ]]; then
        url=${line#listening on }
        break
    fi
done
exec {from_backend}<&-
if [ -z "$url" ]; then
    echo "relay-pair.sh: ${backend[0]} printed no 'listening on' line within 10 s" >&2
    exit 1
fi

exec "${@//\{backend\}/$url}"
