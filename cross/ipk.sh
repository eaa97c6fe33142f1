#!/usr/bin/env bash
# cross/ipk.sh [ARCH ...] — pack the static binaries cross/out/smoltracker-ARCH into
# OpenWrt packages cross/out/ipk/smoltracker_VERSION_ARCH.ipk, laid out the way OpenWrt's
# scripts/ipkg-build makes them (gzip'd GNU tar of ./debian-binary ./data.tar.gz
# ./control.tar.gz), plus a feed index Packages / Packages.gz for `src/gz` in opkg.
# No ARCH: every binary present. opkg/.ipk serves OpenWrt 24.10 and older; 25.12 uses
# apk (build openwrt/net/smoltracker with an SDK for that).
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's time).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # byte order for globs and sort: same output everywhere

FILES=openwrt/net/smoltracker/files
OUT=cross/out/ipk
# Same name and version an OpenWrt SDK gives it: PKG_VERSION-PKG_RELEASE.
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
RELEASE="$(sed -n 's/^PKG_RELEASE:=//p' openwrt/net/smoltracker/Makefile)"
VERSION="$VERSION-${RELEASE:-1}"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH

if [ $# -eq 0 ]; then
	for b in cross/out/smoltracker-*; do
		[ -f "$b" ] && set -- "$@" "${b#cross/out/smoltracker-}"
	done
fi
[ $# -gt 0 ] || { echo "ipk.sh: no binaries in cross/out (run cross/build.sh)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$OUT"

# GNU tar, as ipkg-build runs it (owner forced to root so it needs no fakeroot).
mktar() { # DIR MEMBERS... -> stdout (gzip -n: no name/time in the gzip header)
	local dir="$1"
	shift
	tar -C "$dir" --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$SOURCE_DATE_EPOCH" -cf - "$@" | gzip -n
}

for arch in "$@"; do
	bin="cross/out/smoltracker-$arch"
	[ -f "$bin" ] || { echo "ipk.sh: missing $bin" >&2; exit 1; }
	d="$tmp/$arch"
	data="$d/data" ctl="$d/CONTROL"
	mkdir -p "$data" "$ctl"
	chmod 0755 "$data" "$ctl" # the "./" entry: opkg must not see a 0700 root
	# What Package/smoltracker/install does in the feed Makefile.
	install -d -m0755 "$data/usr/bin" "$data/etc/init.d" "$data/etc/config" "$data/etc/smoltracker"
	install -m0755 "$bin" "$data/usr/bin/smoltracker"
	install -m0755 "$FILES/smoltracker.init" "$data/etc/init.d/smoltracker"
	install -m0600 "$FILES/smoltracker.config" "$data/etc/config/smoltracker" # INSTALL_CONF
	install -m0644 "$FILES/whitelist" "$data/etc/smoltracker/whitelist"       # nobody reads it

	mktar "$data" . > "$d/data.tar.gz"
	size="$(gzip -dc "$d/data.tar.gz" | wc -c)"

	# Fields in package-ipkg.mk's order. No Depends: the binary is static (an SDK build
	# links musl dynamically and gets Depends: libc). Description lines start with a space.
	cat > "$ctl/control" <<-CONTROL
		Package: smoltracker
		Version: $VERSION
		Source: feeds/smoltracker/net/smoltracker
		SourceName: smoltracker
		License: MIT
		Section: net
		SourceDateEpoch: $SOURCE_DATE_EPOCH
		Architecture: $arch
		Installed-Size: $size
		Description:  A small BitTorrent tracker with a fixed memory cap: HTTP and UDP,
		 IPv4 and IPv6, whitelist re-read on SIGHUP without dropping peers.
		 Reads opentracker's config syntax; configured here through UCI.
	CONTROL
	printf '%s\n' /etc/config/smoltracker /etc/smoltracker/whitelist | sort > "$ctl/conffiles"
	# OpenWrt's generated maintainer scripts, verbatim: default_postinst enables and
	# starts /etc/init.d/smoltracker on a live router (IPKG_INSTROOT empty), only enables
	# it when building an image; default_prerm stops and disables it.
	cat > "$ctl/postinst" <<-'SCRIPT'
		#!/bin/sh
		[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
		. ${IPKG_INSTROOT}/lib/functions.sh
		default_postinst $0 $@
	SCRIPT
	cat > "$ctl/prerm" <<-'SCRIPT'
		#!/bin/sh
		. ${IPKG_INSTROOT}/lib/functions.sh
		default_prerm $0 $@
	SCRIPT
	chmod 0644 "$ctl/control" "$ctl/conffiles"
	chmod 0755 "$ctl/postinst" "$ctl/prerm"
	mktar "$ctl" . > "$d/control.tar.gz"

	echo "2.0" > "$d/debian-binary"
	chmod 0644 "$d/debian-binary" "$d/data.tar.gz" "$d/control.tar.gz"
	ipk="$OUT/smoltracker_${VERSION}_$arch.ipk"
	rm -f "$OUT"/smoltracker_*_"$arch".ipk # older versions would stay in the index
	# Members named explicitly keep this order (--sort only orders directory contents).
	mktar "$d" ./debian-binary ./data.tar.gz ./control.tar.gz > "$ipk"
	echo "$ipk"
done

# Feed index as scripts/ipkg-make-index.sh writes it: each control with Filename, Size
# and SHA256sum inserted before Description, a blank line after each.
(
	cd "$OUT"
	for ipk in smoltracker_*.ipk; do # C-locale glob order = ipkg-make-index's sort
		tar -xzOf "$ipk" ./control.tar.gz | tar -xzOf - ./control | sed -e "s/^Description:/Filename: $ipk\\
Size: $(stat -c %s "$ipk")\\
SHA256sum: $(sha256sum "$ipk" | cut -d' ' -f1)\\
Description:/"
		echo
	done > Packages
	gzip -9nc Packages > Packages.gz
	rm -f Packages.sig
)
echo "$OUT/Packages"

# OpenWrt's opkg.conf has `option check_signature`: a feed needs Packages.sig, an
# Ed25519 signature of Packages by usign (OpenWrt's tool, in an SDK's staging_dir/host/bin)
# or signify (same key and signature format; Debian's signify-openbsd). Optional:
#   signify-openbsd -G -n -p smoltracker.pub -s smoltracker.sec   (once; keep .sec private)
#   SIGN_KEY=smoltracker.sec cross/ipk.sh ;  on the router: opkg-key add smoltracker.pub
if [ -n "${SIGN_KEY:-}" ]; then
	if command -v usign > /dev/null; then
		usign -S -m "$OUT/Packages" -s "$SIGN_KEY" -x "$OUT/Packages.sig"
	else
		signify-openbsd -S -s "$SIGN_KEY" -m "$OUT/Packages" -x "$OUT/Packages.sig"
	fi
	echo "$OUT/Packages.sig"
fi
