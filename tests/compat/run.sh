#!/usr/bin/env bash
# The tools that read opentracker's stats, and opentracker itself, against smoltracker:
#  1. /metrics and /stats?mode=prom pass `promtool check metrics` (Debian: prometheus);
#  2. side by side with Debian's opentracker (same whitelist, same announces), every
#     stats page both have is compared line by line, digit runs masked; mode=everything
#     element by element with Python's XML parser (only the version text and
#     smoltracker's own <smoltracker> element may differ);
#  3. the OpenWrt init script maps UCI's fifo_add / fifo_delete / stats / proxy options
#     to the config, and a hash written to the generated FIFO is served at once.
#
#   tests/compat/run.sh [TRACKER_BINARY]      default: target/release/smoltracker
#
# Needs promtool, /usr/bin/opentracker, curl and python3; installs nothing (.ci/run does).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/smoltracker}
[ -x "$bin" ] || (cd "$root" && cargo build --release)
for tool in promtool curl python3; do
    command -v "$tool" >/dev/null || { echo "compat: $tool not found" >&2; exit 1; }
done
[ -x /usr/bin/opentracker ] || { echo "compat: /usr/bin/opentracker not found (apt-get install opentracker)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/compat.XXXXXX")
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail=0
bad() { echo "compat: FAIL: $*" >&2; fail=1; }
ok() { echo "compat: ok: $*"; }

# A free port pair: TCP and UDP on the same number.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

A=0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a
B=0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b
printf '%s\n%s\n' "$A" "$B" > "$work/whitelist"
chmod 644 "$work/whitelist"
enc() { echo "$1" | sed 's/../%&/g'; }

wait_http() {
    for _ in $(seq 50); do
        curl -s -m 1 -o /dev/null "http://127.0.0.1:$1/stats" && return 0
        sleep 0.1
    done
    return 1
}

sp=$(port); op=$(port)
"$bin" -i 127.0.0.1 -p "$sp" -P "$sp" -w "$work/whitelist" > "$work/smol.log" 2>&1 &
pids+=($!)
/usr/bin/opentracker -i 127.0.0.1 -p "$op" -P "$op" -w "$work/whitelist" -A 127.0.0.1 > "$work/ot.log" 2>&1 &
pids+=($!)
wait_http "$sp" || { cat "$work/smol.log"; exit 1; }
wait_http "$op" || { cat "$work/ot.log"; exit 1; }

for p in "$sp" "$op"; do
    get() { curl -s -m 5 -o /dev/null "http://127.0.0.1:$p$1"; }
    get "/announce?info_hash=$(enc $A)&port=1&left=0&event=completed&peer_id=-XX0001-abcdefghijk1&compact=1"
    get "/announce?info_hash=$(enc $A)&port=2&left=0&peer_id=-XX0001-abcdefghijk2&compact=1"
    get "/announce?info_hash=$(enc $A)&port=3&left=9&peer_id=-XX0001-abcdefghijk3&compact=1"
    get "/announce?info_hash=$(enc $B)&port=4&left=9&peer_id=-XX0001-abcdefghijk4&compact=1"
    get "/nowhere"
done

# 1. Prometheus' own checker.
for target in /metrics "/stats?mode=prom"; do
    if out=$(curl -s -m 5 "http://127.0.0.1:$sp$target" | promtool check metrics 2>&1); then
        ok "promtool check metrics $target"
    else
        bad "promtool check metrics $target: $out"
    fi
done

# 2. Page by page, digit runs masked (version: each tracker's own text).
shape() { sed -E 's/[0-9]+/N/g'; }
for mode in peer torr conn scrp udp4 tcp4 fscr herr completed top10 top100 renew syncs s24s; do
    s=$(curl -s -m 5 "http://127.0.0.1:$sp/stats?mode=$mode" | shape)
    o=$(curl -s -m 5 --compressed "http://127.0.0.1:$op/stats?mode=$mode" | shape)
    if [ "$s" = "$o" ]; then ok "mode=$mode: same layout as opentracker"; else
        bad "mode=$mode differs:"; diff <(echo "$o") <(echo "$s") >&2 || true
    fi
done
# The same numbers where both count the same things.
for mode in peer torr top10 top100 s24s; do
    s=$(curl -s -m 5 "http://127.0.0.1:$sp/stats?mode=$mode")
    o=$(curl -s -m 5 --compressed "http://127.0.0.1:$op/stats?mode=$mode")
    if [ "$s" = "$o" ]; then ok "mode=$mode: same text as opentracker"; else
        bad "mode=$mode text differs:"; diff <(echo "$o") <(echo "$s") >&2 || true
    fi
done
for fmt in txt txtp; do
    s=$(curl -s -m 5 "http://127.0.0.1:$sp/stats?mode=tpbs&format=$fmt" | sort)
    o=$(curl -s -m 5 --compressed "http://127.0.0.1:$op/stats?mode=tpbs&format=$fmt" | sort)
    if [ "$s" = "$o" ]; then ok "mode=tpbs&format=$fmt: same records"; else
        bad "tpbs $fmt differs:"; diff <(echo "$o") <(echo "$s") >&2 || true
    fi
done
s=$(curl -s -m 5 "http://127.0.0.1:$sp/stats?mode=statedump" | sort | cut -d: -f1,3)
o=$(curl -s -m 5 --compressed "http://127.0.0.1:$op/stats?mode=statedump" | sort | cut -d: -f1,3)
if [ "$s" = "$o" ]; then ok "mode=statedump: same HEX:...:downloaded records"; else
    bad "statedump differs:"; diff <(echo "$o") <(echo "$s") >&2 || true
fi

# opentracker's statedump seeds smoltracker's state file.
curl -s -m 5 --compressed "http://127.0.0.1:$op/stats?mode=statedump" > "$work/state"
chmod 666 "$work/state"
printf 'tracker.state_file %s\n' "$work/state" > "$work/state.conf"
chmod 644 "$work/state.conf"
dp=$(port)
"$bin" -f "$work/state.conf" -i 127.0.0.1 -p "$dp" -P "$dp" > "$work/state.log" 2>&1 &
pids+=($!)
wait_http "$dp" || { cat "$work/state.log"; exit 1; }
r=$(curl -s -m 5 "http://127.0.0.1:$dp/scrape?info_hash=$(enc $A)")
if [[ $r == *"10:downloadedi1e"* ]] && grep -q "restored 2 completed counts" "$work/state.log"; then
    ok "opentracker's statedump seeds tracker.state_file"
else
    bad "statedump seeding: $r / $(cat "$work/state.log")"
fi

outline() {
    python3 -c '
import sys, xml.etree.ElementTree as ET
def walk(e, path):
    p = path + "/" + e.tag
    if p in ("/stats/version", "/stats/smoltracker"):
        print(p); return
    attrs = "".join(" %s=\"%s\"" % kv for kv in e.attrib.items())
    print(p + attrs)
    for c in e: walk(c, p)
walk(ET.fromstring(sys.stdin.read()), "")'
}
s=$(curl -s -m 5 "http://127.0.0.1:$sp/stats?mode=everything" | outline | grep -v '^/stats/smoltracker$')
o=$(curl -s -m 5 --compressed "http://127.0.0.1:$op/stats?mode=everything" | outline)
if [ "$s" = "$o" ]; then ok "mode=everything: opentracker's elements, order and labels ($(echo "$o" | wc -l) elements)"; else
    bad "mode=everything differs:"; diff <(echo "$o") <(echo "$s") >&2 || true
fi
s=$(curl -s -m 5 "http://127.0.0.1:$sp/stats?mode=everything" | python3 -c 'import sys,xml.etree.ElementTree as E; print(E.fromstring(sys.stdin.read())[2].tag)')
[ "$s" = uptime ] && ok "mode=everything: third child is uptime" || bad "third child is $s"

# 3. OpenWrt: the init script's UCI mapping, with uci/procd's config_* stood in.
init=$root/openwrt/net/smoltracker/files/smoltracker.init
fifo=$work/add.fifo
conf=$(
    # shellcheck disable=SC2034,SC1090
    set +eu
    config_get() {
        # No locals: the caller's variable may be called anything.
        eval "_cg_value=\${UCI_$3-\$4}"
        eval "$1=\$_cg_value"
    }
    config_list_foreach() {
        local opt=$2 fn=$3 items i
        shift 3
        eval "items=\${UCIL_$opt-}"
        for i in $items; do $fn "$i" "$@"; done
    }
    UCI_whitelist=$work/whitelist UCI_fifo_add=$fifo UCI_fifo_delete=$work/delete.fifo
    UCIL_listen="127.0.0.1:$(port)" UCIL_stats="127.0.0.0/8 ::1" UCIL_proxy="192.168.1.0/24"
    . "$init"
    smoltracker_config main nobody
)
for line in "access.fifo_add $fifo" "access.fifo_delete $work/delete.fifo" \
            "access.stats 127.0.0.0/8" "access.proxy 192.168.1.0/24"; do
    grep -qxF "$line" <<<"$conf" && ok "UCI -> '$line'" || bad "UCI mapping lacks '$line':\n$conf"
done
echo "$conf" > "$work/uci.conf"
chmod 644 "$work/uci.conf"
"$bin" -f "$work/uci.conf" > "$work/uci.log" 2>&1 &
pids+=($!)
up=$(sed -n 's/^listen.tcp_udp 127.0.0.1:\([0-9]*\)$/\1/p' "$work/uci.conf")
wait_http "$up" || { cat "$work/uci.log"; exit 1; }
C=0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c
before=$(curl -s -m 5 "http://127.0.0.1:$up/announce?info_hash=$(enc $C)&port=5&left=1")
echo "$C" > "$fifo"
sleep 0.3
after=$(curl -s -m 5 "http://127.0.0.1:$up/announce?info_hash=$(enc $C)&port=5&left=1")
if [[ $before == *"not authorized"* && $after != *"not authorized"* ]]; then
    ok "UCI fifo_add: a hash written to $fifo is served at once"
else
    bad "fifo_add over UCI: before '$before', after '$after'"; cat "$work/uci.log" >&2
fi
grep -q warning "$work/uci.log" && bad "warnings: $(cat "$work/uci.log")"

exit $fail
