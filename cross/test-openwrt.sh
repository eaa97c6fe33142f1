#!/usr/bin/env bash
# cross/test-openwrt.sh [ARCH] — the project's OpenWrt packages under OpenWrt's real
# service and package tools (built from ../shared/vendor/openwrt by cross/openwrt-tools.sh):
# ubusd, procd (as a plain service manager, PID != 1), uci, jshn, jsonfilter, BusyBox
# syslogd/logread, opkg-lede and apk-tools v3, with OpenWrt's rc.common, functions.sh,
# procd.sh, uci.sh, reload_config. Everything runs inside
#   unshare --pid --fork --mount --net --ipc --uts
# (network: only `lo`), in a chroot whose /bin/sh is BusyBox ash. Two roots, one after
# the other: the .ipk installed by the real opkg, the .apk by the real apk from the
# signed feed index (its key in /etc/apk/keys, no --allow-untrusted). In each, as a router
# user: install (postinst enables and starts; apk fetches the key and feed over HTTP from
# BusyBox httpd on 127.0.0.1:8080), enable, start, HTTP + UDP answer on
# 127.0.0.1 and ::1, runs as nobody, status, whitelist append + reload (SIGHUP, same PID,
# hash accepted), uci set + commit (no restart) + reload_config (restart, new config),
# SIGKILL (respawned), logread (start line daemon.info, warnings daemon.err), upgrade to a
# newer package with a different binary (conffiles kept, the new binary running), remove
# (stopped, disabled).
# ARCH (default x86_64): mipsel_24kc runs the tracker under qemu-mipsel-static,
# registered with binfmt_misc in the test's own user namespace (a sandboxed binfmt_misc
# instance, Linux >= 6.7): nothing is registered on the host.
# Needs root. Every wait is bounded; the whole run is under `timeout`; daemons are stopped
# by PID, and whatever is left dies with the PID namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR="$PWD"

# ================================ inside the namespaces =================================
if [ "${1:-}" = --inside ]; then
	ARCH="$2" WORK="$3" TOOLS="$4"
	fails=0
	pass() { echo "PASS $*"; }
	fail() { echo "FAIL $*"; fails=$((fails + 1)); }
	check() { # NAME COMMAND...
		local name="$1"
		shift
		if "$@"; then pass "$name"; else fail "$name"; fi
	}
	wait_until() { # SECONDS COMMAND... : poll every 0.2 s
		local n=$(($1 * 5))
		shift
		while ! "$@"; do
			n=$((n - 1))
			[ "$n" -gt 0 ] || return 1
			sleep 0.2
		done
	}
	ip link set lo up
	[ "$(ip -o link show | wc -l)" = 1 ] || { echo "network namespace has more than lo" >&2; exit 1; }
	if [ "$ARCH" = mipsel_24kc ]; then
		# A binfmt_misc instance of this user namespace only (F: qemu is opened now, so
		# it need not exist inside the chroot).
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || {
			echo "FAIL: no binfmt_misc of our own (needs Linux >= 6.7 for one in a user namespace)" >&2
			exit 1
		}
		printf '%s' ':qemu-mipsel:M::\x7f\x45\x4c\x46\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x08\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xfe\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-mipsel-static:F' \
			> /proc/sys/fs/binfmt_misc/register
	fi
	SLOW=1
	[ "$ARCH" = x86_64 ] || SLOW=4

	copy_bin() { # SRC DEST: a binary and the libraries ldd names, at their own paths
		install -D -m0755 "$1" "$R$2"
		local lib
		for lib in $(ldd "$1" 2> /dev/null | grep -o '/[^ ]*' || true); do
			[ -e "$R$lib" ] || install -D -m0755 "$lib" "$R$lib"
		done
	}
	make_root() { # R: BusyBox, OpenWrt's shell files and tools, /proc, a private /dev
		mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib,proc,dev,tmp,root,srv,etc/config,etc/rc.d,usr/share/libubox}
		ln -s tmp "$R/var"
		chmod 1777 "$R/tmp"
		install -m0755 /bin/busybox "$R/bin/busybox"
		chroot "$R" /bin/busybox --install -s
		cp -R "$ROOT_DIR/../shared/vendor/openwrt/rootfs/." "$R/"
		copy_bin "$TOOLS/sbin/ubusd" /sbin/ubusd
		copy_bin "$TOOLS/sbin/procd" /sbin/procd
		copy_bin "$TOOLS/bin/ubus" /bin/ubus
		copy_bin "$TOOLS/bin/uci" /sbin/uci
		copy_bin "$TOOLS/bin/jshn" /usr/bin/jshn
		copy_bin "$TOOLS/bin/jsonpath" /usr/bin/jsonfilter
		copy_bin "$TOOLS/bin/usign" /usr/bin/usign
		copy_bin /usr/bin/flock /usr/bin/flock # BusyBox here has none; procd.sh needs it
		install -m0644 "$TOOLS/share/libubox/jshn.sh" "$R/usr/share/libubox/jshn.sh"
		mount -t proc proc "$R/proc"
		mount -t tmpfs -o mode=0755 dev "$R/dev"
		local d
		for d in null zero random urandom; do
			: > "$R/dev/$d"
			mount --bind "/dev/$d" "$R/dev/$d"
		done
		mkdir -p "$R/var/run" "$R/var/lock"
	}
	run() { # COMMAND (sh, in the chroot, as a router's root shell has it)
		timeout $((60 * SLOW)) chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /bin/sh -c "$1"
	}
	DAEMONS=()
	start_daemons() {
		chroot "$R" /sbin/ubusd & DAEMONS+=($!)
		wait_until 10 test -S "$R/var/run/ubus/ubus.sock" || { echo "ubusd did not start" >&2; return 1; }
		chroot "$R" /sbin/syslogd -n -C128 & DAEMONS+=($!)
		wait_until 10 test -S "$R/dev/log" || { echo "syslogd did not start" >&2; return 1; }
		chroot "$R" /bin/busybox httpd -f -p 127.0.0.1:8080 -h /srv & DAEMONS+=($!)
		chroot "$R" /sbin/procd & DAEMONS+=($!)
		wait_until 10 run 'ubus list service' > /dev/null || { echo "procd did not register" >&2; return 1; }
	}
	stop_daemons() {
		local p
		for p in "${DAEMONS[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
		for p in "${DAEMONS[@]}"; do
			wait_until 5 gone "$p" || kill -KILL "$p" 2> /dev/null || true
			wait "$p" 2> /dev/null || true
		done
		DAEMONS=()
		# A tracker procd started and did not stop by itself (a failed test).
		for p in $(pidof_tracker); do kill -KILL "$p" 2> /dev/null || true; done
	}

	# ---- probes (host tools, in the test's network namespace) ----
	pid() { run 'ubus call service list "{\"name\":\"smoltracker\"}" 2>/dev/null | jsonfilter -e "@.smoltracker.instances.main.pid"' 2> /dev/null || true; }
	pidof_tracker() { # every process whose command line starts the packaged binary
		local f
		for f in "$R"/proc/[0-9]*/cmdline; do
			tr '\0' ' ' < "$f" 2> /dev/null | grep -q '/usr/bin/smoltracker -f' && { f="${f%/cmdline}" && echo "${f##*/}"; }
		done
	}
	alive() { [ -n "$1" ] && [ -e "$R/proc/$1" ] && ! grep -q '^State:.*Z' "$R/proc/$1/status" 2> /dev/null; } # in our PID namespace
	gone() { ! alive "$1"; }
	new_pid() { local p; p="$(pid)"; [ -n "$p" ] && [ "$p" != "$1" ] && alive "$p"; }
	url_hash() { local q="" i; for ((i = 0; i < 40; i += 2)); do q+="%${1:i:2}"; done; echo "$q"; }
	announce() { # HOST HEX40 -> body
		curl -gs --max-time $((3 * SLOW)) "http://$1:6969/announce?info_hash=$(url_hash "$2")&peer_id=-ST0100-openwrttest01&port=6881&uploaded=0&downloaded=0&left=0&compact=1" || true
	}
	refused() { announce "$1" "$2" | grep -q 'not authorized'; }
	accepted() { local b; b="$(announce "$1" "$2")"; [[ "$b" == *8:interval* && "$b" != *"failure reason"* ]]; }
	udp_answers() { # HOST: BEP 15 connect answered
		/usr/bin/python3 - "$1" <<-'PY'
			import os, socket, struct, sys
			host = sys.argv[1]
			s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
			s.settimeout(2)
			tid = int.from_bytes(os.urandom(4), "big")
			s.sendto(struct.pack(">QII", 0x41727101980, 0, tid), (host, 6969))
			d = s.recv(64)
			sys.exit(0 if len(d) == 16 and struct.unpack(">II", d[:8]) == (0, tid) else 1)
		PY
	}
	runs_new_binary() { # PID: its mapped /usr/bin/smoltracker is the file now installed
		local maps="$R/proc/$1/maps"
		grep -q '/usr/bin/smoltracker$' "$maps" && ! grep -q '/usr/bin/smoltracker (deleted)' "$maps"
	}
	logged() { run 'logread' | grep -q -- "$1"; }
	has_instance() { [ -n "$(pid)" ]; }
	not() { ! "$@"; }

	# ---- one root per package manager ----
	scenario() { # PM (opkg|apk)
		local pm="$1" R P1 P2 P3 P4 HASH=5eed0000c0ffee0000000000000000000000000$2 out
		R="$WORK/root-$pm"
		echo "== $pm: chroot $R, $ARCH"
		make_root
		case "$pm" in
		opkg)
			copy_bin "$TOOLS/bin/opkg-cl" /bin/opkg
			mkdir -p "$R/usr/lib/opkg" "$R/etc/opkg"
			printf '%s\n' 'dest root /' 'dest ram /tmp' 'lists_dir ext /var/opkg-lists' \
				'option overlay_root /overlay' 'option check_signature' \
				'arch all 1' 'arch noarch 1' "arch $ARCH 10" > "$R/etc/opkg.conf"
			cp "$WORK/ipk/$ARCH"/*.ipk "$R/tmp/"
			cp "$WORK/ipk/smoltracker-feed.pub" "$R/srv/"
			mkdir -p "$R/tmp/upgrade"
			cp "$WORK/up/ipk/$ARCH"/*.ipk "$R/tmp/upgrade/"
			install_cmd="opkg install /tmp/smoltracker_*_$ARCH.ipk"
			upgrade_cmd="opkg install /tmp/upgrade/smoltracker_*_$ARCH.ipk"
			remove_cmd="opkg remove smoltracker"
			version_cmd="opkg list-installed smoltracker"
			;;
		apk)
			copy_bin "$TOOLS/sbin/apk" /usr/bin/apk
			# An image's apk database, as the build leaves it (no packages needed here).
			mkdir -p "$R/etc/apk/keys" "$R/etc/apk/repositories.d"
			echo "$ARCH" > "$R/etc/apk/arch"
			timeout 60 "$TOOLS/sbin/apk" --root "$R" --no-network --no-cache --no-logfile add --initdb > /dev/null
			# The feed and its key over HTTP (BusyBox httpd on 127.0.0.1:8080 in the
			# chroot), fetched by apk's own HTTP client, as a router does over https://.
			mkdir -p "$R/srv/feed"
			cp "$WORK/apk/$ARCH"/* "$R/srv/feed/"
			cp "$WORK/apk/smoltracker-feed.pem" "$R/srv/"
			install_cmd="wget -q -O /etc/apk/keys/smoltracker-feed.pem http://127.0.0.1:8080/smoltracker-feed.pem &&
				echo http://127.0.0.1:8080/feed/packages.adb >> /etc/apk/repositories.d/customfeeds.list &&
				apk update && apk add smoltracker"
			upgrade_cmd="apk update && apk upgrade"
			remove_cmd="apk del smoltracker"
			version_cmd="apk list --installed smoltracker"
			;;
		esac
		start_daemons

		if [ "$pm" = apk ]; then
			check "apk: the feed is refused without its key (signed index, no --allow-untrusted)" \
				bash -c '! timeout 60 chroot "$1" /usr/bin/apk --repository http://127.0.0.1:8080/feed/packages.adb add --simulate smoltracker >/dev/null 2>&1' _ "$R"
		else
			# What `opkg-key add` does with a key: /etc/opkg/keys/FINGERPRINT; opkg then
			# checks Packages.sig with usign -V -P /etc/opkg/keys.
			cp "$WORK/ipk/$ARCH/Packages" "$WORK/ipk/$ARCH/Packages.sig" "$R/tmp/"
			run 'wget -q -O /tmp/smoltracker-feed.pub http://127.0.0.1:8080/smoltracker-feed.pub &&
				mkdir -p /etc/opkg/keys && cp /tmp/smoltracker-feed.pub "/etc/opkg/keys/$(usign -F -p /tmp/smoltracker-feed.pub)"'
			check "opkg: Packages.sig verifies against /etc/opkg/keys (usign -V -P)" \
				run 'usign -V -q -P /etc/opkg/keys -m /tmp/Packages'
			check "opkg: a changed Packages fails the check" \
				run 'echo "Package: evil" >> /tmp/Packages && ! usign -V -q -P /etc/opkg/keys -m /tmp/Packages 2>/dev/null'
		fi

		out="$(run "$install_cmd" 2>&1)" || true
		check "$pm: install exits 0 and runs the post-install script" run "$version_cmd | grep -q smoltracker"
		check "$pm: post-install enabled the service (/etc/rc.d/S90smoltracker)" \
			[ "$(readlink "$R/etc/rc.d/S90smoltracker")" = ../init.d/smoltracker ]
		check "$pm: post-install started it under procd" wait_until $((10 * SLOW)) has_instance
		check "$pm: enable" run '/etc/init.d/smoltracker enable && /etc/init.d/smoltracker enabled'
		check "$pm: start" run '/etc/init.d/smoltracker start'
		P1="$(pid)"
		check "$pm: procd instance 'main' running (pid ${P1:-none})" alive "$P1"
		check "$pm: HTTP answers on 127.0.0.1:6969 (empty whitelist: refused)" wait_until $((10 * SLOW)) refused 127.0.0.1 "$HASH"
		check "$pm: HTTP answers on [::1]:6969" refused '[::1]' "$HASH"
		check "$pm: UDP answers on 127.0.0.1:6969" udp_answers 127.0.0.1
		check "$pm: UDP answers on ::1 port 6969" udp_answers ::1
		if [ "$ARCH" = mipsel_24kc ]; then
			check "$pm: the mipsel binary runs, under qemu-mipsel-static ($(readlink "$R/proc/$P1/exe"))" \
				bash -c '[[ "$(readlink "$1")" == */qemu-mipsel-static ]] && grep -q "/usr/bin/smoltracker$" "$2"' _ "$R/proc/$P1/exe" "$R/proc/$P1/maps"
		fi
		check "$pm: runs as nobody" grep -qE '^Uid:[[:space:]]+65534[[:space:]]' "$R/proc/$P1/status"
		check "$pm: status says running" bash -c '[ "$(timeout 30 chroot "$1" /etc/init.d/smoltracker status)" = running ]' _ "$R"
		run '/etc/init.d/smoltracker start'
		check "$pm: start again with nothing changed keeps the process" [ "$(pid)" = "$P1" ]

		run "echo $HASH my-release.iso >> /etc/smoltracker/whitelist && echo 'not a hash' >> /etc/smoltracker/whitelist && /etc/init.d/smoltracker reload"
		check "$pm: whitelist append + reload: hash accepted" wait_until $((5 * SLOW)) accepted 127.0.0.1 "$HASH"
		check "$pm: reload kept the process (pid $P1): SIGHUP, logged" \
			bash -c '[ "$1" = "$2" ] && kill -0 "$1"' _ "$(pid)" "$P1"
		check "$pm: logread: reload by SIGHUP, not by the mtime check" wait_until 5 logged "SIGHUP: whitelist /etc/smoltracker/whitelist: 1 info hashes, 1 bad lines skipped"

		run 'reload_config' # the first call after boot/install only records checksums
		run "uci set smoltracker.main.max_memory='2M' && uci commit smoltracker"
		sleep 2
		check "$pm: uci set + commit alone changes nothing (same pid)" [ "$(pid)" = "$P1" ]
		run 'reload_config'
		check "$pm: reload_config restarts it (new pid)" wait_until $((10 * SLOW)) new_pid "$P1"
		P2="$(pid)"
		check "$pm: ... with the new config (tracker.max_memory 2M)" grep -qx 'tracker.max_memory 2M' "$R/var/etc/smoltracker-main.conf"
		check "$pm: ... and serves it (logread: memory cap 2048 KiB)" wait_until $((10 * SLOW)) logged "memory cap 2048 KiB"
		check "$pm: new instance accepts the whitelisted hash" wait_until $((10 * SLOW)) accepted 127.0.0.1 "$HASH"

		kill -KILL "$P2"
		check "$pm: SIGKILL: procd respawns it" wait_until $((15 * SLOW)) new_pid "$P2"
		P3="$(pid)"
		check "$pm: respawned tracker serves" wait_until $((10 * SLOW)) accepted '[::1]' "$HASH"

		check "$pm: logread: the start line is daemon.info" logged 'daemon.info smoltracker\[[0-9]*\]: smoltracker [0-9.]*: listening on'
		check "$pm: logread: privileges and reloads are daemon.info" logged 'daemon.info smoltracker\[[0-9]*\]: smoltracker: SIGHUP: whitelist'
		check "$pm: logread: a bad whitelist line is daemon.err" logged 'daemon.err smoltracker\[[0-9]*\]: smoltracker: /etc/smoltracker/whitelist:[0-9]*: not a 40- or 64-hex info hash, skipped: "not a hash"'
		check "$pm: logread: no start line as daemon.err" not logged 'daemon.err.*listening on'

		# Upgrade: a newer package whose binary differs (for apk: published in the feed).
		if [ "$pm" = apk ]; then
			rm -f "$R/srv/feed"/*
			cp "$WORK/up/apk/$ARCH"/* "$R/srv/feed/"
		fi
		run "$upgrade_cmd" > /dev/null 2>&1 || true
		ver="$(run "$version_cmd" 2>&1 | tr '\n' ' ')"
		check "$pm: upgrade installed the newer version ($ver)" grep -qE -e '0\.1\.0-r?2' <<< "$ver"
		check "$pm: upgrade restarted the service (new pid)" wait_until $((15 * SLOW)) new_pid "$P3"
		P4="$(pid)"
		check "$pm: upgrade: the NEW binary is running (not '/usr/bin/smoltracker (deleted)')" \
			wait_until $((5 * SLOW)) runs_new_binary "$P4"
		check "$pm: upgrade: installed binary is the new one" cmp -s "$R/usr/bin/smoltracker" "$WORK/up/smoltracker-$ARCH"
		check "$pm: upgrade kept /etc/config/smoltracker (max_memory 2M)" run "uci get smoltracker.main.max_memory | grep -qx 2M"
		check "$pm: upgrade kept the whitelist" grep -q "^$HASH" "$R/etc/smoltracker/whitelist"
		check "$pm: upgraded tracker serves the whitelisted hash" wait_until $((10 * SLOW)) accepted 127.0.0.1 "$HASH"
		check "$pm: still enabled after the upgrade" [ -L "$R/etc/rc.d/S90smoltracker" ]

		run "$remove_cmd" > /dev/null 2>&1 || true
		check "$pm: remove: tracker stopped" wait_until $((10 * SLOW)) gone "$P4"
		check "$pm: remove: procd has no instance" not has_instance
		check "$pm: remove: disabled (no /etc/rc.d/S90smoltracker)" not test -L "$R/etc/rc.d/S90smoltracker"
		check "$pm: remove: binary gone" [ ! -e "$R/usr/bin/smoltracker" ]
		check "$pm: nothing left listening on 6969" bash -c '! curl -s --max-time 2 http://127.0.0.1:6969/ >/dev/null'
		if [ "$fails" -gt 0 ]; then
			echo "-- $pm install output:"
			echo "$out" | tail -20
			echo "-- logread:"
			run logread | tail -30 || true
		fi
		stop_daemons
		umount -l "$R/proc" "$R/dev" 2> /dev/null || true
	}
	scenario opkg 1
	scenario apk 2
	echo "== $ARCH: $fails failed"
	[ "$fails" -eq 0 ]
	exit
fi

# ================================ outside: prepare, then enter ===========================
[ "$(id -u)" = 0 ] || { echo "test-openwrt.sh: needs root (namespaces, chroot)" >&2; exit 2; }
ARCH="${1:-x86_64}"
case "$ARCH" in
x86_64) USERNS=0 ;;
mipsel_24kc)
	command -v qemu-mipsel-static > /dev/null || { echo "test-openwrt.sh: no qemu-mipsel-static" >&2; exit 2; }
	USERNS=1
	;;
*) echo "test-openwrt.sh: ARCH is x86_64 or mipsel_24kc" >&2; exit 2 ;;
esac
[ -f "cross/out/smoltracker-$ARCH" ] || { echo "test-openwrt.sh: no cross/out/smoltracker-$ARCH (cross/build.sh $ARCH)" >&2; exit 2; }
file -b /bin/busybox | grep -q 'statically linked' || { echo "test-openwrt.sh: needs busybox-static" >&2; exit 2; }
TOOLS="$(cross/openwrt-tools.sh)"

WORK="$(mktemp -d /tmp/smoltracker-openwrt.XXXXXX)"
chmod 0755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
# Release packages, and a newer release whose binary differs (a byte appended: same
# program, different file) for the upgrade.
FEED_OUT="$WORK" cross/package.sh "$ARCH" > /dev/null
mkdir -p "$WORK/up"
cp "cross/out/smoltracker-$ARCH" "$WORK/up/smoltracker-$ARCH"
printf '\n' >> "$WORK/up/smoltracker-$ARCH"
PKG_RELEASE=2 BIN_DIR="$WORK/up" FEED_OUT="$WORK/up" cross/package.sh "$ARCH" > /dev/null

NS=(--pid --fork --mount --net --ipc --uts --propagation private)
INSIDE=("$ROOT_DIR/cross/test-openwrt.sh" --inside "$ARCH" "$WORK" "$TOOLS")
if [ "$USERNS" = 0 ]; then
	timeout 900 unshare "${NS[@]}" "${INSIDE[@]}"
	exit
fi
# With a user namespace mapping uids/gids 0-65535 onto themselves (so root stays root,
# nobody stays nobody), written by us as real root: util-linux 2.38's --map-users would
# need newuidmap. The child waits for the map before it execs the test (an exec with the
# map in place gives it root's capabilities in the namespace).
unshare --user "${NS[@]}" /bin/sh -c \
	'n=0; until [ -n "$(cat /proc/self/uid_map)" ] && [ -n "$(cat /proc/self/gid_map)" ]; do n=$((n + 1)); [ $n -lt 200 ] || exit 1; sleep 0.05; done; exec timeout 900 "$@"' \
	sh "${INSIDE[@]}" &
up=$!
for _ in $(seq 100); do
	[ "$(readlink "/proc/$up/ns/user" 2> /dev/null)" != "$(readlink /proc/self/ns/user)" ] && break
	sleep 0.05
done
echo '0 0 65536' > "/proc/$up/uid_map"
echo '0 0 65536' > "/proc/$up/gid_map"
wait "$up"
