#!/usr/bin/env bash
# tests/container/run.sh [RELEASE_DIR] — the OCI image cross/release.sh saved
# (RELEASE_DIR/smoltracker-VERSION-oci-amd64.tar, default cross/out/release), checked
# without running a container (crun cannot here: rlimits, cgroups):
#   podman load into a private vfs storage; `podman image inspect`: FROM scratch (one layer),
#   a numeric non-root user with an /etc/passwd entry, 6969/tcp + 6969/udp exposed, the
#   org.opencontainers.image.* labels; then the rootfs of a created container
#   (`podman export`) is unpacked and the image's ENTRYPOINT + CMD run from it, chrooted, as
#   the image's UID:GID with no supplementary groups, in a fresh network namespace, where
#   the host's python3 checks that HTTP and UDP answer.
# Needs root and Debian's podman; `tests/container/run.sh --install-deps` apt-gets it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" = --install-deps ]; then
	shift
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -q
	apt-get -o DPkg::Lock::Timeout=600 install -y -q podman python3 util-linux iproute2
fi
REL="${1:-cross/out/release}"
t0=$(date +%s)
say() { printf '[oci %3ds] %s\n' $(( $(date +%s) - t0 )) "$*"; }
fail() { say "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (chroot, network namespace)"
for t in podman python3 unshare chroot ip; do
	command -v "$t" > /dev/null || fail "$t missing (tests/container/run.sh --install-deps)"
done
shopt -s nullglob
imgs=("$REL"/smoltracker-*-oci-amd64.tar)
shopt -u nullglob
((${#imgs[@]} == 1)) || fail "no smoltracker-*-oci-amd64.tar in $REL (cross/release.sh with podman installed)"
IMG="${imgs[0]}"

WORK="$(mktemp -d /tmp/smoltracker-oci.XXXXXX)"
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver=vfs)
SERVER=""
cleanup() {
	local rc=$?
	[ -z "$SERVER" ] || kill "$SERVER" 2> /dev/null || true
	timeout 60 "${P[@]}" rm -a -f > /dev/null 2>&1 || true
	timeout 60 "${P[@]}" rmi -a -f > /dev/null 2>&1 || true
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT

loaded="$(timeout 120 "${P[@]}" load -q -i "$IMG")" || fail "podman load"
ref="${loaded##*: }"
say "podman load $(basename "$IMG") ($(stat -c %s "$IMG") B): $ref"
timeout 60 "${P[@]}" image inspect "$ref" > "$WORK/inspect.json" || fail "podman image inspect"

# What the image says about itself.
eval "$(python3 - "$WORK/inspect.json" <<-'PY'
	import json, shlex, sys
	i = json.load(open(sys.argv[1]))[0]
	c = i["Config"]
	labels = c.get("Labels") or {}
	need = ["title", "description", "version", "revision", "created", "licenses", "source"]
	missing = [k for k in need if f"org.opencontainers.image.{k}" not in labels]
	ports = sorted((c.get("ExposedPorts") or {}).keys())
	cmd = (c.get("Entrypoint") or []) + (c.get("Cmd") or [])
	print("USERSPEC=" + shlex.quote(c.get("User", "")))
	print("PORTS=" + shlex.quote(" ".join(ports)))
	print("LAYERS=%d" % len(i["RootFS"]["Layers"]))
	print("MISSING=" + shlex.quote(" ".join(missing)))
	print("ARGV=(" + " ".join(shlex.quote(a) for a in cmd) + ")")
	print("VERSION=" + shlex.quote(labels.get("org.opencontainers.image.version", "")))
	print("SIZE=%d" % i.get("Size", 0))
	PY
)"
[ "$LAYERS" = 1 ] || fail "$LAYERS layers, not one (FROM scratch, built with --squash)"
[ -z "$MISSING" ] || fail "labels missing: $MISSING"
[ "$PORTS" = "6969/tcp 6969/udp" ] || fail "exposed ports '$PORTS'"
case "$USERSPEC" in
	[1-9]*:[0-9]*) ;;
	*) fail "user '$USERSPEC' is not a numeric non-root UID:GID" ;;
esac
UID_="${USERSPEC%%:*}" GID_="${USERSPEC##*:}"
say "inspect: user $USERSPEC, ports $PORTS, labels ok (version $VERSION), ${#ARGV[@]}-word command: ${ARGV[*]}, $SIZE B"

# The rootfs, as a container created from the image has it.
timeout 60 "${P[@]}" create --name smoltracker-check "$ref" > /dev/null || fail "podman create"
mkdir "$WORK/rootfs"
timeout 60 "${P[@]}" export smoltracker-check | tar -C "$WORK/rootfs" -xf - || fail "podman export"
R="$WORK/rootfs"
grep -q "^[^:]*:[^:]*:$UID_:$GID_:" "$R/etc/passwd" || fail "no /etc/passwd entry for $UID_:$GID_"
[ "$(stat -c %u:%g "$R/var/lib/smoltracker")" = "$UID_:$GID_" ] || fail "/var/lib/smoltracker not owned by $UID_:$GID_"
[ -x "$R${ARGV[0]}" ] || fail "entrypoint ${ARGV[0]} not in the image"
file -b "$R${ARGV[0]}" 2> /dev/null | grep -q 'statically linked' || fail "${ARGV[0]} is not static"
say "rootfs: $(cd "$R" && find . -type f | sort | xargs) ($(du -sk "$R" | cut -f1) KiB)"

# Run the entrypoint from it: chroot, the image's UID:GID (no groups), its own network
# namespace (cwd /: every path in its config is absolute); the host's python3 in
# that namespace speaks HTTP and UDP to it.
H=3333333333333333333333333333333333333333
# shellcheck disable=SC2016 # the inner script's own variables
unshare --net --fork -- bash -c '
	set -e
	ip link set lo up
	# chroot, then drop to UID:GID with no supplementary groups, then exec: as a runtime does.
	python3 -c "import os, sys
os.chroot(sys.argv[1]); os.chdir(\"/\")
os.setgroups([]); os.setgid(int(sys.argv[3])); os.setuid(int(sys.argv[2]))
os.execv(sys.argv[4], sys.argv[4:])" "$3" "$1" "$2" "${@:7}" > "$4/tracker.log" 2>&1 &
	tracker=$!
	rc=0
	timeout 30 python3 "$5" 127.0.0.1 6969 "$6" --wait served --timeout 10 || rc=$?
	echo "uid of the tracker: $(stat -c %u /proc/$tracker)"
	kill -TERM $tracker
	wait $tracker || { echo "tracker exit status $?"; rc=1; }
	exit $rc
' run "$UID_" "$GID_" "$R" "$WORK" tests/deb/announce.py "$H" "${ARGV[@]}" > "$WORK/probe.log" 2>&1 || {
	cat "$WORK/probe.log" "$WORK/tracker.log"
	fail "the image's entrypoint did not answer HTTP and UDP"
}
sed 's/^/  /' "$WORK/probe.log" "$WORK/tracker.log"
grep -qx "uid of the tracker: $UID_" "$WORK/probe.log" || fail "tracker not running as $UID_"
say "entrypoint from the rootfs as $UID_:$GID_: HTTP and UDP served, stopped by SIGTERM (exit 0)"
say "PASS"
