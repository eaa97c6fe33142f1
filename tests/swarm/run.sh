#!/usr/bin/env bash
# Real-client swarm test: start a tracker on loopback and let a libtorrent seeder
# and leecher (tests/swarm/swarm.py) swarm through it, once over http:// and once
# over udp://.
#
#   tests/swarm/run.sh [TRACKER_BINARY]      default: target/release/smoltracker
#
# Environment:
#   TRACKER_ARGS_EXTRA  words appended to the tracker's command line
#   SWARM_WHITELIST=1   pass "-w FILE" listing the test torrents' info hashes
#                       (for whitelist-only trackers such as Debian's opentracker)
# Needs Debian's python3-libtorrent (for /usr/bin/python3); installs nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=/usr/bin/python3

if ! "$py" -c 'import libtorrent' 2>/dev/null; then
    echo "run.sh: $py cannot import libtorrent (apt-get install python3-libtorrent)" >&2
    exit 1
fi

if [ $# -ge 1 ]; then
    bin=$1
else
    bin=$root/target/release/smoltracker
    [ -x "$bin" ] || (cd "$root" && cargo build --release)
fi
[ -x "$bin" ] || { echo "run.sh: tracker binary $bin not found or not executable" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/swarm-run.XXXXXX")
chmod 755 "$work" # trackers that drop privileges (opentracker) must read the whitelist
tracker_pid=
cleanup() {
    if [ -n "$tracker_pid" ]; then
        kill "$tracker_pid" 2>/dev/null || true
        wait "$tracker_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT # make the EXIT trap run on signals too
trap 'exit 143' TERM

# A port free for both TCP and UDP (the tracker serves both on one number).
port=$("$py" - <<'EOF'
import socket
for _ in range(100):
    with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        t.bind(("127.0.0.1", 0))
        try:
            u.bind(("127.0.0.1", t.getsockname()[1]))
        except OSError:
            continue
        print(t.getsockname()[1])
        break
EOF
)
[ -n "$port" ] || { echo "run.sh: no free port" >&2; exit 1; }

# One fresh torrent per scheme, made before the tracker starts so a whitelist
# can name them; separate swarms keep the UDP run from seeing HTTP-run peers.
for scheme in http udp; do
    url=$scheme://127.0.0.1:$port/announce
    "$py" "$here/swarm.py" --dir "$work/$scheme" --prepare-only "$url" >>"$work/whitelist"
done
args=(-i 127.0.0.1 -p "$port" -P "$port")
if [ "${SWARM_WHITELIST:-0}" = 1 ]; then args+=(-w "$work/whitelist"); fi
# shellcheck disable=SC2206 # word splitting of the extra arguments is intended
args+=(${TRACKER_ARGS_EXTRA:-})

echo "run.sh: $bin ${args[*]}"
"$bin" "${args[@]}" >"$work/tracker.log" 2>&1 &
tracker_pid=$!

tracker_log() { { echo "--- tracker output:"; cat "$work/tracker.log"; echo "---"; } >&2; }

# Wait (at most 10 s) until the tracker accepts TCP connections.
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    if ! kill -0 "$tracker_pid" 2>/dev/null; then
        echo "run.sh: tracker exited at startup" >&2; tracker_log; exit 1
    fi
    sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
    { echo "run.sh: tracker not listening on 127.0.0.1:$port after 10 s" >&2; tracker_log; exit 1; }

status=0
for scheme in http udp; do
    "$py" "$here/swarm.py" --dir "$work/$scheme" "$scheme://127.0.0.1:$port/announce" || status=1
done
if ! kill -0 "$tracker_pid" 2>/dev/null; then
    echo "run.sh: tracker died during the test" >&2; status=1
fi
[ "$status" = 0 ] || tracker_log
exit "$status"
