#!/usr/bin/env bash
# cross/test-procd.sh — the packaged init script under BusyBox ash, in a chroot built
# from the x86_64 .ipk, with stand-ins for OpenWrt's /etc/rc.common, /lib/functions.sh
# (UCI) and procd from openwrt/test/rootfs. The stand-in procd really starts the tracker
# (as root; it drops to nobody itself), on 127.0.0.1 and a free port. Checks: start serves;
# a hash not in the whitelist is refused; after appending it, `reload` (SIGHUP) makes it
# accepted by the SAME process; a UCI change + reload restarts it; a killed tracker is
# respawned; stop ends it. Needs root (chroot). Every wait is bounded.
#   SMOLTRACKER_BIN=target/release/smoltracker cross/test-procd.sh   # test another build
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-procd.sh: needs root for chroot" >&2; exit 2; }

fails=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # NAME COMMAND...
	local name="$1"
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
wait_until() { # SECONDS COMMAND... : poll every 0.1 s
	local n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

ROOT="$(mktemp -d /tmp/smoltracker-procd.XXXXXX)"
STATE="$ROOT/var/run/procd/smoltracker"
cleanup() {
	timeout 20 chroot "$ROOT" /etc/init.d/smoltracker stop > /dev/null 2>&1 || true
	local f # anything left over, by the PIDs the stand-in recorded: supervisors first
	for f in $(find "$ROOT/var/run/procd" -name supervisor 2> /dev/null) \
		$(find "$ROOT/var/run/procd" -name pid 2> /dev/null); do
		kill -KILL "$(cat "$f")" 2> /dev/null || true
	done
	rm -rf "$ROOT"
}
trap cleanup EXIT

# ---- the root: package contents, busybox, stand-ins ---------------------------------
copy_bin() { # SRC DEST: a binary and, if dynamic, the libraries ldd names
	install -D -m0755 "$1" "$ROOT$2"
	local lib
	for lib in $(ldd "$1" 2> /dev/null | grep -o '/[^ ]*' || true); do
		[ -e "$ROOT$lib" ] || install -D -m0755 "$lib" "$ROOT$lib"
	done
}
if [ -f cross/out/smoltracker-x86_64 ]; then
	ipk="$(cross/ipk.sh x86_64 | grep '\.ipk$')"
	tar -xzOf "$ipk" ./data.tar.gz | tar -xzf - -C "$ROOT"
	from="$ipk"
else # no cross build: same layout by hand, host binary
	f=openwrt/net/smoltracker/files
	install -D -m0755 "$f/smoltracker.init" "$ROOT/etc/init.d/smoltracker"
	install -D -m0600 "$f/smoltracker.config" "$ROOT/etc/config/smoltracker"
	install -D -m0644 "$f/whitelist" "$ROOT/etc/smoltracker/whitelist"
	: "${SMOLTRACKER_BIN:=target/release/smoltracker}"
	from="openwrt/net/smoltracker/files"
fi
if [ -n "${SMOLTRACKER_BIN:-}" ]; then
	copy_bin "$SMOLTRACKER_BIN" /usr/bin/smoltracker
	from="$from, binary $SMOLTRACKER_BIN"
fi
chmod 0755 "$ROOT"
copy_bin "$(command -v busybox)" /bin/busybox
copy_bin /usr/bin/setpriv /usr/bin/setpriv # stand-in's procd `user` param (busybox's lacks --reuid)
busybox --list-full | while read -r p; do
	[ -e "$ROOT/$p" ] || { mkdir -p "$ROOT/$(dirname "$p")" && ln -s /bin/busybox "$ROOT/$p"; }
done
cp -R openwrt/test/rootfs/. "$ROOT/"
mkdir -p "$ROOT/dev" "$ROOT/tmp" "$ROOT/var/run" "$ROOT/var/log"
mknod -m 0666 "$ROOT/dev/null" c 1 3 2> /dev/null || : > "$ROOT/dev/null"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/var:/bin/false' > "$ROOT/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$ROOT/etc/group"
echo "== root from $from"

PORT="$(/usr/bin/python3 -c '
import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
')"

# ---- helpers -------------------------------------------------------------------------
UCI="$ROOT/etc/config/smoltracker"
uci_set() { # OPTION VALUE: what `uci set smoltracker.main.OPTION=VALUE; uci commit` leaves
	sed -i "s|^\([[:space:]]*option $1 \).*|\1'$2'|" "$UCI"
	grep -q "option $1 '$2'" "$UCI"
}
initd() { timeout 30 chroot "$ROOT" /etc/init.d/smoltracker "$@"; }
pid() { cat "$STATE/main/pid" 2> /dev/null; }
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2> /dev/null; }
gone() { ! alive "$1"; }
new_pid() { local p; p="$(pid)"; [ -n "$p" ] && [ "$p" != "$1" ] && alive "$p"; } # differs from $1
announce() { # HEX40 -> response body
	local q="" i
	for ((i = 0; i < 40; i += 2)); do q+="%${1:i:2}"; done
	curl -s --max-time 3 "http://127.0.0.1:$PORT/announce?info_hash=$q&peer_id=-ST0100-procdtest0001&port=6881&uploaded=0&downloaded=0&left=0&compact=1" || true
}
serves() { announce "$1" | grep -q '^d'; }
refused() { announce "$1" | grep -q 'not authorized'; }
accepted() { local b; b="$(announce "$1")"; [[ "$b" == *8:interval* && "$b" != *"failure reason"* ]]; }
interval_900() { local b; b="$(announce "$1")"; [[ "$b" == *8:intervali900e* ]]; }
HASH=5eed0000c0ffee00000000000000000000000001

# Loopback only, and reload must be proven by SIGHUP, not by the mtime check.
sed -i '/^[[:space:]]*list listen /d' "$UCI"
sed -i "s|^config smoltracker 'main'\$|&\n\tlist listen '127.0.0.1:$PORT'|" "$UCI"
uci_set reload_interval 0

# ---- the test ------------------------------------------------------------------------
echo "== tracker on 127.0.0.1:$PORT"
check "enable links /etc/rc.d/S90smoltracker" \
	bash -c 'timeout 10 chroot "$1" /etc/init.d/smoltracker enable && [ "$(readlink "$1/etc/rc.d/S90smoltracker")" = ../init.d/smoltracker ]' _ "$ROOT"
check "start returns" initd start
P1="$(pid || true)"
check "start: procd instance 'main' running (pid ${P1:-none})" alive "$P1"
check "start: HTTP announce on 127.0.0.1:$PORT answers" wait_until 10 serves "$HASH"
conf="$ROOT/var/etc/smoltracker-main.conf"
check "generated /var/etc/smoltracker-main.conf: listen, whitelist, reload_interval, 0644" bash -c '
	grep -qx "listen.tcp_udp 127.0.0.1:$2" "$1" && grep -qx "access.whitelist /etc/smoltracker/whitelist" "$1" &&
	grep -qx "access.reload_interval 0" "$1" && [ "$(stat -c %a "$1")" = 644 ]' _ "$conf" "$PORT"
check "runs as user nobody (tracker.user: drops root after binding)" grep -qE '^Uid:[[:space:]]+65534[[:space:]]' "/proc/$P1/status"
check "reload trigger registered for 'uci commit smoltracker'" \
	grep -qx "config.change smoltracker /etc/init.d/smoltracker reload" "$STATE/.triggers"
initd start
check "start again with nothing changed keeps the process" [ "$(pid)" = "$P1" ]

check "hash not in the whitelist is refused (\"not authorized\")" refused "$HASH"
echo "$HASH" >> "$ROOT/etc/smoltracker/whitelist"
check "reload returns" initd reload
check "reload: whitelisted hash accepted" wait_until 5 accepted "$HASH"
check "reload: same process (pid $P1), no restart" bash -c '[ "$(cat "$1" 2>/dev/null)" = "$2" ]' _ "$STATE/main/pid" "$P1"
check "reload: pid $P1 still alive" alive "$P1"

uci_set announce_interval 900
check "reload after a UCI change returns" initd reload
check "UCI change + reload: restarted, new pid" wait_until 10 new_pid "$P1"
P2="$(pid || true)"
check "UCI change + reload: old pid $P1 gone" wait_until 10 gone "$P1"
check "UCI change + reload: interval 900 served, whitelist kept" wait_until 5 interval_900 "$HASH"

[ -z "$P2" ] || kill -KILL "$P2" 2> /dev/null || true
check "killed tracker is respawned (procd respawn, 5 s)" wait_until 12 new_pid "$P2"
P3="$(pid || true)"
check "respawned tracker serves" wait_until 10 serves "$HASH"

uci_set enabled 0
initd reload
check "enabled=0 + reload: instance removed, process gone" wait_until 10 gone "$P3"
uci_set enabled 1
initd reload
P4="$(pid || true)"
check "enabled=1 + reload: running again (pid ${P4:-none})" wait_until 10 serves "$HASH"

check "stop returns" initd stop
check "stop: process gone" wait_until 10 gone "$P4"
check "stop: port closed, generated config removed" bash -c '! curl -s --max-time 2 "http://127.0.0.1:$1/" >/dev/null && [ ! -e "$2" ]' _ "$PORT" "$conf"

if [ "$fails" -gt 0 ]; then
	echo "== tracker log (stand-in for logread):"
	tail -n 30 "$ROOT/var/log/smoltracker.log" 2> /dev/null || true
fi
echo "== $fails failed"
[ "$fails" -eq 0 ]
