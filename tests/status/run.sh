#!/usr/bin/env bash
# The status page in a real browser (Debian's chromium, driven by playwright-core
# from npm): a tracker with a whitelist of named releases (some names hostile)
# and a state file with 89 days of downloads, peers announced over HTTP, then
# tests/status/browser.mjs checks labels against scrapes, the download charts
# against mode=json, sorting, the 30 s refresh and the phone layout, and
# writes screenshots to tests/status/out/ (or $STATUS_OUT).
#   tests/status/run.sh [BINARY]      (default: target/release/smoltracker)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-$here/../../target/release/smoltracker}")
out=${STATUS_OUT:-$here/out}
[ -x /usr/bin/chromium ] || { echo "needs Debian's chromium (apt-get install chromium)"; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
work=$(mktemp -d)
chmod 755 "$work"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
/usr/bin/python3 "$here/load.py" whitelist "$work/whitelist"
chmod 644 "$work/whitelist"
/usr/bin/python3 "$here/load.py" state "$work/state"
chmod 666 "$work/state"
echo "tracker.state_file $work/state" > "$work/conf"
chmod 644 "$work/conf"
"$bin" -f "$work/conf" -i 127.0.0.1 -p 0 -P 0 -w "$work/whitelist" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/log" && break; sleep 0.1; done
port=$(grep -o 'tcp://127.0.0.1:[0-9]*' "$work/log" | head -1 | sed 's/.*://')
[ -n "$port" ] || { cat "$work/log"; exit 1; }
/usr/bin/python3 "$here/load.py" announce "$port" "$work/whitelist" "$work/expected.json"
node "$here/browser.mjs" "http://127.0.0.1:$port" "$work/expected.json" "$out"
echo "tracker log:"; sed 's/^/  /' "$work/log"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

# OpenWrt: UCI's stats_public reaches the config (the init script's mapping, with
# uci's config_* stood in), and the page is public while the counters are not.
conf=$(
  # shellcheck disable=SC2034,SC1090
  set +eu
  config_get() { eval "_cg_value=\${UCI_$3-\$4}"; eval "$1=\$_cg_value"; }
  config_list_foreach() {
    local opt=$2 fn=$3 items i; shift 3
    eval "items=\${UCIL_$opt-}"; for i in $items; do $fn "$i" "$@"; done
  }
  UCI_whitelist=$work/whitelist UCI_stats_public="html json"
  UCIL_listen="127.0.0.1:0" UCIL_stats="192.0.2.1"
  . "$here/../../openwrt/net/smoltracker/files/smoltracker.init"
  smoltracker_config main nobody
)
grep -qxF "access.stats_public html json" <<<"$conf" || { echo "FAIL: UCI stats_public not mapped:"; echo "$conf"; exit 1; }
echo "$conf" > "$work/uci.conf"; chmod 644 "$work/uci.conf"
"$bin" -f "$work/uci.conf" >"$work/uci.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/uci.log" && break; sleep 0.1; done
port=$(grep -o 'tcp://127.0.0.1:[0-9]*' "$work/uci.log" | head -1 | sed 's/.*://')
code() { /usr/bin/python3 -c 'import sys, urllib.request, urllib.error
try: print(urllib.request.urlopen(sys.argv[1], timeout=10).status)
except urllib.error.HTTPError as e: print(e.code)' "http://127.0.0.1:$port$1"; }
for want in "/stats?mode=html 200" "/stats?mode=json 200" "/stats?mode=peer 403" "/metrics 403"; do
  got=$(code "${want% *}")
  [ "$got" = "${want##* }" ] || { echo "FAIL: UCI config: ${want% *} answered $got, not ${want##* }"; cat "$work/uci.log"; exit 1; }
  echo "ok   UCI stats_public: ${want% *} -> $got"
done
echo "status page: UCI checks passed"
