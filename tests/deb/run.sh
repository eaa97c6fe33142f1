#!/usr/bin/env bash
# tests/deb/run.sh [RELEASE_DIR] — the smoltracker .deb under the real dpkg and the real
# systemd (Debian 12), plus the static checks. RELEASE_DIR defaults to cross/out/release
# (cross/release.sh). Needs root and Debian's mmdebstrap, systemd-container, lintian,
# python3; `tests/deb/run.sh --install-deps` apt-gets them first.
#   1. lintian on every .deb: no error or warning (overrides are in the package, justified)
#   2. systemd-analyze security --offline=yes on the packaged unit: exposure <= 2.0
#   3. a minbase Debian 12 root (mmdebstrap --variant=minbase, systemd, dbus), booted with
#      systemd-nspawn -b --private-network; inside it, with the real dpkg and systemctl:
#      install (enabled + started by postinst), HTTP and UDP answer (the host's python3 in the
#      container's network namespace), the empty whitelist refuses, a hash appended +
#      `systemctl reload` is served with the same MainPID, a hash written to the add FIFO in
#      /run/smoltracker is served, `journalctl -p warning` empty, kill -9 -> restarted,
#      upgrade to revision 2 (repacked here) keeps the edited conffile and runs the new
#      binary, state file kept, a port below 1024 served, remove + install again, purge
#      removes unit, state and config; then the x86_64 tarball installed by hand as
#      docs/install.md says (enable --now, refuses, reload serves).
# KEEP=1 keeps the root directory (in WORK, default a fresh mktemp -d) for a look.
# Every step is bounded by `timeout`; the container is powered off and its nspawn stopped
# by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=tests/deb

if [ "${1:-}" = --install-deps ]; then
	shift
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -q
	apt-get -o DPkg::Lock::Timeout=600 install -y -q mmdebstrap systemd-container lintian python3 dpkg-dev
fi
REL="${1:-cross/out/release}"
t0=$(date +%s)
say() { printf '[deb %3ds] %s\n' $(( $(date +%s) - t0 )) "$*"; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (mmdebstrap, systemd-nspawn, nsenter)"
for t in mmdebstrap systemd-nspawn lintian systemd-analyze nsenter python3 dpkg-deb; do
	command -v "$t" > /dev/null || fail "$t missing (tests/deb/run.sh --install-deps)"
done
shopt -s nullglob
debs=("$REL"/smoltracker_*_*.deb)
amd64=("$REL"/smoltracker_*-1_amd64.deb)
shopt -u nullglob
((${#debs[@]})) || fail "no .deb in $REL (cross/release.sh)"
((${#amd64[@]} == 1)) || fail "no smoltracker_*-1_amd64.deb in $REL"
DEB="${amd64[0]}"
tarball=("$REL"/smoltracker-*-x86_64.tar.gz)
[ -f "${tarball[0]}" ] || tarball=()

# ---- 1. lintian ----------------------------------------------------------------------------
say "lintian ${debs[*]##*/}"
lint="$(timeout 300 lintian --fail-on error,warning --display-info "${debs[@]}" 2>&1)" ||
	{ printf '%s\n' "$lint"; fail "lintian"; }
[ -z "$lint" ] || printf '%s\n' "$lint" | sed 's/^/  /'
say "lintian: no errors or warnings"

# ---- 2. systemd-analyze security ----------------------------------------------------------
WORK="${WORK:-$(mktemp -d /tmp/smoltracker-deb.XXXXXX)}"
ROOT="$WORK/root"
NSPAWN_PID="" PID1=""
cleanup() {
	local rc=$?
	if [ -n "$PID1" ] && [ -d "/proc/$PID1" ]; then
		timeout 20 nsenter -t "$PID1" -a systemctl poweroff > /dev/null 2>&1 || true
	fi
	if [ -n "$NSPAWN_PID" ]; then
		for _ in $(seq 1 60); do kill -0 "$NSPAWN_PID" 2> /dev/null || break; sleep 0.5; done
		if kill -0 "$NSPAWN_PID" 2> /dev/null; then
			kill -TERM "$NSPAWN_PID" 2> /dev/null || true
			sleep 3
			kill -KILL "$NSPAWN_PID" 2> /dev/null || true
		fi
		wait "$NSPAWN_PID" 2> /dev/null || true
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
mkdir -p "$WORK/x"
dpkg-deb -x "$DEB" "$WORK/x"
unit="$WORK/x/usr/lib/systemd/system/smoltracker.service"
timeout 60 systemd-analyze verify "$unit" 2>&1 | grep -v 'is not executable: No such file' || true
sec="$(timeout 60 systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)" || true
exposure="$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
[ -n "$exposure" ] || { printf '%s\n' "$sec"; fail "no exposure level from systemd-analyze security"; }
printf '%s\n' "$sec" | grep '✗' | sed 's/^/  /' || true
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure > 2.0"
say "systemd-analyze security --offline=yes: exposure $exposure (<= 2.0)"

# ---- 3. Debian 12 minbase root, real systemd ------------------------------------------------
s=$(date +%s)
timeout 600 mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$ROOT" ||
	fail "mmdebstrap"
say "mmdebstrap minbase bookworm: $(( $(date +%s) - s )) s, $(du -sm "$ROOT" | cut -f1) MB"
# Revision 2: the same package, version bumped (what an upgrade brings), repacked here.
mkdir -p "$WORK/rev2"
dpkg-deb -R "$DEB" "$WORK/rev2/pkg"
v1="$(dpkg-deb -f "$DEB" Version)"
v2="${v1%-*}-$(( ${v1##*-} + 1 ))"
sed -i "s/^Version: .*/Version: $v2/" "$WORK/rev2/pkg/DEBIAN/control"
dpkg-deb --root-owner-group --build "$WORK/rev2/pkg" "$ROOT/root/rev2.deb" > /dev/null
cp "$DEB" "$ROOT/root/rev1.deb"

s=$(date +%s)
systemd-nspawn -q -D "$ROOT" -b --register=no --keep-unit --private-network < /dev/null > "$WORK/console.log" 2>&1 &
NSPAWN_PID=$!
# The container's PID 1: the nspawn process's child once it has exec'd systemd (before,
# it is a fork of nspawn; nsenter into that reaches no systemd).
for _ in $(seq 1 150); do
	c="$(pgrep -P "$NSPAWN_PID" | head -n1 || true)"
	if [ -n "$c" ] && [ "$(cat "/proc/$c/comm" 2> /dev/null)" = systemd ]; then PID1="$c"; break; fi
	kill -0 "$NSPAWN_PID" 2> /dev/null || break
	sleep 0.1
done
[ -n "$PID1" ] || { cat "$WORK/console.log"; fail "no container PID 1 (systemd) under nspawn $NSPAWN_PID"; }
ct() { timeout "${T:-30}" nsenter -t "$PID1" -a "$@"; }
# Until systemd has its bus up, systemctl says nothing useful: ask again.
state=""
for _ in $(seq 1 90); do
	state="$(T=90 ct systemctl is-system-running --wait 2> /dev/null || true)"
	case "$state" in running | degraded | maintenance | stopping) break ;; esac
	sleep 1
done
case "$state" in
	running | degraded) ;;
	*) cat "$WORK/console.log"; fail "container did not boot: '$state'" ;;
esac
[ "$state" = running ] || ct systemctl --failed --no-legend | sed 's/^/  failed: /'
say "booted systemd $(ct systemctl --version | head -n1 | cut -d' ' -f2) (PID 1 = host PID $PID1): $state, $(( $(date +%s) - s )) s"

probe() { # HASH served|refused [ANNOUNCE.PY OPTIONS]
	local h="$1" want="$2"
	shift 2
	timeout 30 nsenter -t "$PID1" -n python3 "$HERE/announce.py" 127.0.0.1 "${PORT:-6969}" "$h" --wait "$want" "$@"
}
mainpid() { ct systemctl show -p MainPID --value smoltracker; }
active() { # wait until active with a MainPID
	for _ in $(seq 1 50); do
		[ "$(ct systemctl is-active smoltracker || true)" = active ] && [ "$(mainpid)" != 0 ] && return 0
		sleep 0.2
	done
	ct systemctl status --no-pager smoltracker || true
	return 1
}

main_exe() { # PATH: wait until MainPID runs PATH (just after the fork it is still systemd)
	local exe=""
	for _ in $(seq 1 25); do
		exe="$(ct readlink "/proc/$(mainpid)/exe" 2> /dev/null || true)"
		[ "$exe" = "$1" ] && return 0
		sleep 0.2
	done
	echo "MainPID $(mainpid) runs '$exe', not $1"
	return 1
}

# install: postinst enables and starts
s=$(date +%s)
T=120 ct dpkg -i /root/rev1.deb > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -i"; }
active || fail "not active after install"
[ "$(ct systemctl is-enabled smoltracker)" = enabled ] || fail "not enabled after install"
say "dpkg -i $v1: enabled, active, MainPID $(mainpid) ($(( $(date +%s) - s )) s)"
[ "$(ct stat -c %a /etc/smoltracker/whitelist)" = 644 ] || fail "whitelist not 0644"
main_exe /usr/bin/smoltracker || fail "MainPID does not run /usr/bin/smoltracker"
status="$(ct cat "/proc/$(mainpid)/status")"
uid="$(printf '%s\n' "$status" | sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p')"
{ [ -n "$uid" ] && [ "$uid" != 0 ]; } || fail "the tracker runs as uid '$uid'"
say "runs as dynamic uid $uid, effective capabilities $(printf '%s\n' "$status" | sed -n 's/^CapEff:[[:space:]]*//p') (CAP_NET_BIND_SERVICE = 0x400)"

H1=1111111111111111111111111111111111111111
H2=2222222222222222222222222222222222222222
out="$(probe "$H1" refused)" || { echo "$out"; fail "empty whitelist: HTTP/UDP should answer 'not authorized'"; }
printf '%s\n' "$out" | sed 's/^/  /'
say "HTTP and UDP answer; the empty whitelist refuses"

# whitelist append + reload: same process, hash served
pid="$(mainpid)"
ct sh -c "echo '$H1 test-release' >> /etc/smoltracker/whitelist"
ct systemctl reload smoltracker || fail "systemctl reload"
out="$(probe "$H1" served)" || { echo "$out"; ct journalctl -u smoltracker --no-pager | tail -n 20; fail "appended hash not served after reload"; }
printf '%s\n' "$out" | sed 's/^/  /'
[ "$(mainpid)" = "$pid" ] || fail "MainPID changed on reload ($pid -> $(mainpid))"
say "whitelist append + systemctl reload: served, same MainPID $pid"

# the add FIFO in the RuntimeDirectory
ct test -p /run/smoltracker/adder.fifo || fail "no FIFO /run/smoltracker/adder.fifo"
ct sh -c "echo $H2 > /run/smoltracker/adder.fifo" || fail "write to the add FIFO"
out="$(probe "$H2" served)" || { echo "$out"; fail "hash from the add FIFO not served"; }
say "hash written to /run/smoltracker/adder.fifo: served"

# only real warnings in the journal: none on a clean install (the first start's
# missing state file is not one: the tracker creates it).
warn="$(ct journalctl -q -p warning -u smoltracker --no-pager -o cat || true)"
[ -z "$warn" ] || { printf '%s\n' "$warn"; fail "journalctl -p warning -u smoltracker shows: $warn"; }
ct journalctl -q -u smoltracker --no-pager -o cat | sed 's/^/  journal: /' | tail -n 12
say "journalctl -p warning -u smoltracker: empty"

# kill -9 -> Restart=on-failure
pid="$(mainpid)"
ct sh -c "kill -9 $pid"
for _ in $(seq 1 50); do
	np="$(mainpid)"
	[ "$np" != "$pid" ] && [ "$np" != 0 ] && [ "$(ct systemctl is-active smoltracker || true)" = active ] && break
	sleep 0.2
done
{ [ "$np" != "$pid" ] && [ "$np" != 0 ]; } || fail "not restarted after kill -9"
probe "$H1" served > /dev/null || fail "not serving after the restart"
say "kill -9 $pid: restarted by systemd, MainPID $np, serving"

# upgrade: edited conffile kept, new binary running, state kept
# (edited in place: a directive that may appear once and is appended a second time
# stops start-up, naming both lines)
ct sed -i 's/^tracker.numwant_default 50$/# edited by the admin\ntracker.numwant_default 30/' /etc/smoltracker/smoltracker.conf
ct grep -qx 'tracker.numwant_default 30' /etc/smoltracker/smoltracker.conf || fail "could not edit the conffile"
# a new peer (another port) completing: one count over HTTP, one over UDP
probe "$H1" served --event completed --peer-port 7001 > /dev/null || fail "completed announce"
ct systemctl restart smoltracker # the state file is written on SIGTERM
active || fail "not active after restart"
ct test -s /var/lib/smoltracker/state || fail "no state file /var/lib/smoltracker/state"
inv="$(ct systemctl show -p InvocationID --value smoltracker)"
probe "$H1" served > /dev/null || fail "not serving after the restart"
warn="$(ct journalctl -q -p warning "_SYSTEMD_INVOCATION_ID=$inv" --no-pager -o cat || true)"
[ -z "$warn" ] || { printf '%s\n' "$warn"; fail "warnings in the journal of a clean restart"; }
ct journalctl -q "_SYSTEMD_INVOCATION_ID=$inv" --no-pager -o cat > "$WORK/journal.txt" || true
sed 's/^/  journal: /' "$WORK/journal.txt"
grep -q '^smoltracker: state /var/lib/smoltracker/state: restored 1 completed count' "$WORK/journal.txt" ||
	fail "the completed count was not restored from the state file"
say "restart with the state file: completed count restored, journalctl -p warning empty for this start"
pid="$(mainpid)"
s=$(date +%s)
T=120 ct dpkg --force-confold -i /root/rev2.deb > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -i rev2"; }
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
[ "$(ct dpkg-query -W -f '${Version}' smoltracker)" = "$v2" ] || fail "not at $v2"
active || fail "not active after upgrade"
np="$(mainpid)"
[ "$np" != "$pid" ] || fail "upgrade did not restart the service"
ct grep -qx 'tracker.numwant_default 30' /etc/smoltracker/smoltracker.conf || fail "edited conffile not kept"
ct grep -q "^$H1" /etc/smoltracker/whitelist || fail "edited whitelist not kept"
main_exe /usr/bin/smoltracker || fail "MainPID does not run /usr/bin/smoltracker"
[ "$(ct stat -L -c %i "/proc/$np/exe")" = "$(ct stat -c %i /usr/bin/smoltracker)" ] || fail "MainPID does not run the installed file"
ct test -s /var/lib/smoltracker/state || fail "state file lost on upgrade"
probe "$H1" served > /dev/null || fail "not serving after the upgrade"
say "upgrade $v1 -> $v2 ($(( $(date +%s) - s )) s): conffiles kept, MainPID $pid -> $np runs the new binary, state kept"

# a port below 1024: the unit's one capability
ct sh -c 'printf "listen.tcp_udp 127.0.0.1:80\n" >> /etc/smoltracker/smoltracker.conf'
ct systemctl restart smoltracker
active || fail "not active with a listener on port 80"
out="$(PORT=80 probe "$H1" served)" || { echo "$out"; ct journalctl -u smoltracker --no-pager | tail -n 5; fail "nothing served on port 80"; }
say "listen.tcp_udp 127.0.0.1:80 (CAP_NET_BIND_SERVICE, not root): HTTP and UDP served on port 80"

# remove (not purge): stopped, conffiles kept; installed again: started
T=120 ct dpkg -r smoltracker > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -r"; }
[ "$(ct systemctl is-active smoltracker || true)" != active ] || fail "still active after remove"
ct test -f /etc/smoltracker/smoltracker.conf || fail "conffile gone after remove"
T=120 ct dpkg -i /root/rev2.deb > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -i after remove"; }
active || fail "not active when installed again after remove"
[ "$(ct systemctl is-enabled smoltracker)" = enabled ] || fail "not enabled when installed again"
say "dpkg -r: stopped, conffiles kept; dpkg -i again: enabled and started"

# purge
T=120 ct dpkg --purge smoltracker > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg --purge"; }
[ "$(ct systemctl is-active smoltracker || true)" != active ] || fail "still active after purge"
! ct test -e /usr/lib/systemd/system/smoltracker.service || fail "unit file left"
! ct systemctl cat smoltracker > /dev/null 2>&1 || fail "systemd still knows the unit"
for p in /var/lib/smoltracker /var/lib/private/smoltracker /etc/smoltracker /usr/bin/smoltracker \
	/etc/systemd/system/multi-user.target.wants/smoltracker.service; do
	! ct test -e "$p" || fail "$p left after purge"
done
! probe "$H1" served --timeout 1 > /dev/null 2>&1 || fail "still answering after purge"
say "dpkg --purge: stopped, unit, config and /var/lib/smoltracker gone"

# The release tarball by hand, with the commands of docs/install.md (Tarballs): the same
# unit from /etc/systemd/system, running /usr/local/bin/smoltracker.
if ((${#tarball[@]} == 1)); then
	cp "${tarball[0]}" "$ROOT/root/"
	tb="${tarball[0]##*/}"
	ct sh -c "cd /root && tar -xzf $tb && cd ${tb%.tar.gz} &&
		install -m0755 smoltracker /usr/local/bin/ &&
		install -d /etc/smoltracker && install -m0644 -t /etc/smoltracker smoltracker.conf whitelist &&
		install -m0644 smoltracker.service /etc/systemd/system/ &&
		systemctl daemon-reload && systemctl enable --now smoltracker" > "$WORK/tar.log" 2>&1 ||
		{ cat "$WORK/tar.log"; fail "the tarball's install commands"; }
	active || fail "not active from the tarball"
	main_exe /usr/local/bin/smoltracker || fail "not running /usr/local/bin/smoltracker"
	probe "$H1" refused > /dev/null || fail "tarball install: the empty whitelist should refuse"
	ct sh -c "echo $H1 >> /etc/smoltracker/whitelist" && ct systemctl reload smoltracker
	probe "$H1" served > /dev/null || fail "tarball install: not served after reload"
	ct systemctl disable --now smoltracker > /dev/null 2>&1
	say "$tb: installed by hand (docs/install.md), enabled --now, refuses, reload serves; disabled"
fi
say "PASS"
