#!/usr/bin/env bash
# The status page in a real browser (Debian's chromium, driven by playwright-core
# from npm): a tracker with a whitelist of named releases (some names hostile),
# peers announced over HTTP, then tests/status/browser.mjs checks labels against
# scrapes, sorting, the 30 s refresh and the phone layout, and writes
# screenshots to tests/status/out/.
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
"$bin" -i 127.0.0.1 -p 0 -P 0 -w "$work/whitelist" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/log" && break; sleep 0.1; done
port=$(grep -o 'tcp://127.0.0.1:[0-9]*' "$work/log" | head -1 | sed 's/.*://')
[ -n "$port" ] || { cat "$work/log"; exit 1; }
/usr/bin/python3 "$here/load.py" announce "$port" "$work/whitelist" "$work/expected.json"
node "$here/browser.mjs" "http://127.0.0.1:$port" "$work/expected.json" "$out"
echo "tracker log:"; sed 's/^/  /' "$work/log"
