#!/usr/bin/env bash
# Hybrid (BEP 52) and v2-only releases with real clients: see tests/hybrid/hybrid.py.
#
#   tests/hybrid/run.sh [TRACKER_BINARY] [--timeout S] [--keep]
#
# TRACKER_BINARY defaults to target/release/smoltracker (built if missing).
# Needs root, iproute2, curl, tcpdump and Debian's python3-libtorrent,
# ctorrent, transmission-cli and qbittorrent-nox; installs nothing. Reuses the virtual
# LAN of tests/lab/lab.py. Bounded: stopped after 5 minutes (about 70 s normally:
# ctorrent announces `completed` only with its next announce, a minute on).
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

# hybrid.py lists each namespace it creates here (through lab.py); whatever
# it leaves behind (if it is killed) is stopped and deleted by this trap.
LAB_NS_FILE=$(mktemp "${TMPDIR:-/tmp}/smoltracker-hybrid-ns.XXXXXX")
export LAB_NS_FILE
test_pid=
cleanup() {
    if [ -n "$test_pid" ]; then
        kill "$test_pid" 2>/dev/null || true
        wait "$test_pid" 2>/dev/null || true
    fi
    while read -r ns; do
        [ -n "$ns" ] || continue
        if [ -e "/run/netns/$ns" ]; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done < "$LAB_NS_FILE"
    rm -f "$LAB_NS_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timeout -k 10 300 /usr/bin/python3 "$here/hybrid.py" "$bin" "$@" &
test_pid=$!
status=0
wait "$test_pid" || status=$?
test_pid=
exit "$status"
