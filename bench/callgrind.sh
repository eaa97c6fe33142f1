#!/usr/bin/env bash
# bench/callgrind.sh — what one HTTP answer costs the tracker, in counts that
# do not move with the machine's load: user-space instructions (valgrind
# --tool=callgrind) and system calls (strace -f -c), per client pattern of
# bench/http_patterns.py.
#
#   bench/callgrind.sh [-n REQUESTS] [-c CONNS] [-e all] [BINARY] [PATTERN...]
#
# BINARY defaults to target/release/smoltracker; PATTERNs to
# "closes keepalive close http10 pipeline". For each pattern the tracker is
# started fresh on 127.0.0.1 twice, once with REQUESTS announces (default 2000,
# C connections at once, default 8) and once with none, and the difference is
# divided by REQUESTS. -e all escapes every info_hash byte as %xx, as
# aquatic_http_load_test does (http_patterns.py --escape). Prints one line
# per pattern:
#   PATTERN  Ir/answer  syscalls/answer  (syscall breakdown per answer)
# Needs valgrind and strace (Debian packages). Loopback only; every run bounded.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=2000 C=8 E=some
while getopts n:c:e: o; do
    case $o in n) N=$OPTARG ;; c) C=$OPTARG ;; e) E=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
BIN=$ROOT/target/release/smoltracker
if [ $# -ge 1 ] && [ -x "$1" ]; then BIN=$1; shift; fi
PATTERNS=("$@")
[ ${#PATTERNS[@]} -gt 0 ] || PATTERNS=(closes keepalive close http10 pipeline)
for t in valgrind strace; do
    command -v $t >/dev/null || { echo "callgrind.sh: needs $t" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/smoltracker-callgrind.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { echo $(( 20000 + RANDOM % 10000 )); }
wait_up() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "callgrind.sh: tracker not up on port $1" >&2; return 1
}
# run TOOL PATTERN REQUESTS OUT
run() {
    local tool=$1 pat=$2 n=$3 out=$4 p; p=$(port)
    # -u root: as root it would drop to nobody, who cannot write the profile
    local args=(-i 127.0.0.1 -p "$p" -P "$p" -u root)
    case $tool in
        callgrind) valgrind -q --tool=callgrind --callgrind-out-file="$out" \
                       "$BIN" "${args[@]}" 2>>"$WORK/log" & ;;
        strace) strace -f -c -o "$out" "$BIN" "${args[@]}" 2>>"$WORK/log" & ;;
    esac
    PID=$!
    TRACKER=$PID
    if [ "$tool" = strace ]; then # signal the traced tracker, not strace
        for _ in $(seq 50); do
            # the traced tracker itself (its command line starts with the binary)
            TRACKER=$(pgrep -f "^$BIN .*-p $p " | head -1) && [ -n "$TRACKER" ] && break
            sleep 0.1
        done
    fi
    wait_up "$p"
    sleep 0.2
    if [ "$n" -gt 0 ]; then
        timeout 600 python3 "$ROOT/bench/http_patterns.py" "127.0.0.1:$p" "$pat" "$n" --conns "$C" --escape "$E"
    fi
    sleep 1.2 # let idle connections be closed by their clients and swept
    kill -TERM "$TRACKER"; wait "$PID" || true; PID=
}
ir() { sed -n 's/^summary: *//p; s/^totals: *//p' "$1" | head -1 | awk '{print $1}'; }
printf '%-10s %12s %10s  %s\n' pattern "Ir/answer" "sys/answer" "syscalls per answer (strace -f -c)"
for pat in "${PATTERNS[@]}"; do
    run callgrind "$pat" "$N" "$WORK/cg-$pat"
    run callgrind "$pat" 0 "$WORK/cg0-$pat"
    run strace "$pat" "$N" "$WORK/st-$pat"
    run strace "$pat" 0 "$WORK/st0-$pat"
    irs=$(awk -v a="$(ir "$WORK/cg-$pat")" -v b="$(ir "$WORK/cg0-$pat")" -v n="$N" 'BEGIN {printf "%.0f", (a - b) / n}')
    breakdown=$(awk -v n="$N" '
        FNR == 1 { f++ }
        /^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" { name = $NF; calls = $4; if (f == 1) a[name] += calls; else b[name] += calls }
        END { tot = 0; for (k in a) { d = (a[k] - b[k]) / n; tot += d; if (d >= 0.05) s = s sprintf("%s %.2f ", k, d) }
              printf "%.2f|%s", tot, s }' "$WORK/st-$pat" "$WORK/st0-$pat")
    printf '%-10s %12s %10s  %s\n' "$pat" "$irs" "${breakdown%%|*}" "${breakdown#*|}"
done
