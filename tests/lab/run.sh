#!/usr/bin/env bash
# Real clients over a virtual LAN (network namespaces): see tests/lab/lab.py.
#
#   tests/lab/run.sh [TRACKER_BINARY] [--clients a,b] [--timeout S] [--keep]
#
# TRACKER_BINARY defaults to target/release/smoltracker (built if missing).
# Needs root, iproute2, curl and Debian's python3-libtorrent, transmission-cli,
# aria2, rtorrent, ctorrent and qbittorrent-nox; installs nothing (.ci/run does).
# Bounded: the whole run is stopped after 7 minutes (about 1 minute normally).
# Other tests on the same LAN run through here too: LAB_SCRIPT names their
# Python script (default lab.py), LAB_LIMIT their bound in seconds (420).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then
    bin=$1; shift
else
    bin=$root/target/release/smoltracker
    [ -x "$bin" ] || (cd "$root" && cargo build --release)
fi
[ -x "$bin" ] || { echo "run.sh: tracker binary $bin not found or not executable" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (ip netns)" >&2; exit 1; }

# lab.py (also when LAB_SCRIPT uses its LAN) lists each namespace it creates
# here; whatever it leaves behind (if it is killed) is stopped and deleted by
# this trap.
LAB_NS_FILE=$(mktemp "${TMPDIR:-/tmp}/smoltracker-lab-ns.XXXXXX")
export LAB_NS_FILE
lab_pid=
cleanup() {
    if [ -n "$lab_pid" ]; then
        kill "$lab_pid" 2>/dev/null || true
        wait "$lab_pid" 2>/dev/null || true
    fi
    while read -r ns; do
        [ -n "$ns" ] || continue
        if [ -e "/run/netns/$ns" ]; then
            # processes still inside a namespace this run created: ours, by PID
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done < "$LAB_NS_FILE"
    rm -f "$LAB_NS_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timeout -k 10 "${LAB_LIMIT:-420}" /usr/bin/python3 "${LAB_SCRIPT:-$here/lab.py}" "$bin" "$@" &
lab_pid=$!
status=0
wait "$lab_pid" || status=$?
lab_pid=
exit "$status"
