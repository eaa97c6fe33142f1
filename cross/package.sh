#!/usr/bin/env bash
# cross/package.sh [ARCH ...] — pack the static binaries cross/out/smoltracker-ARCH into
# OpenWrt packages and signed per-architecture feeds, from ONE file set per architecture,
# the way OpenWrt's include/package-pack.mk does:
#   cross/out/ipk/ARCH/smoltracker_VERSION-RELEASE_ARCH.ipk  + Packages, Packages.gz,
#       Packages.sig (usign)                   -> opkg, OpenWrt 24.10 and older
#   cross/out/apk/ARCH/smoltracker-VERSION-rRELEASE.apk + packages.adb (apk mkndx, signed)
#                                              -> apk v3, OpenWrt 25.12 and later
#   cross/out/ipk/smoltracker-feed.pub   usign public key  (router: opkg-key add)
#   cross/out/apk/smoltracker-feed.pem   apk public key    (router: /etc/apk/keys/)
# No ARCH: every binary present.
# Keys: for a release, name the private keys in the environment:
#   SIGN_KEY_USIGN=FILE   usign secret key (usign -G); its public key is FILE.pub unless
#                         SIGN_KEY_USIGN_PUB=FILE says otherwise
#   SIGN_KEY_APK=FILE     EC (prime256v1) private key in PEM; the public key is derived
# Otherwise a throwaway pair is made once into cross/out/keys/ (kept for later runs).
# Also: PKG_RELEASE=N (default: the feed Makefile's), BIN_DIR (binaries, default
# cross/out), FEED_OUT (default cross/out), KEYS_DIR (default cross/out/keys).
# The real apk and usign come from cross/openwrt-tools.sh (built from ../shared/vendor).
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's time); the
# .ipk files and Packages(.gz) are byte-identical between runs (signatures are not).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # byte order for globs and sort: same output everywhere

FILES=openwrt/net/smoltracker/files
OUT="${FEED_OUT:-cross/out}"      # feeds go to OUT/ipk, OUT/apk
BIN_DIR="${BIN_DIR:-cross/out}"   # where cross/build.sh left smoltracker-ARCH
KEYS="${KEYS_DIR:-cross/out/keys}" # throwaway keys, when none are named
NAME=smoltracker
# Same name and versions an OpenWrt SDK gives it: PKG_VERSION-PKG_RELEASE for opkg,
# PKG_VERSION-rPKG_RELEASE for apk (which rejects 0.1.0-1).
PKG_VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
PKG_RELEASE="${PKG_RELEASE:-$(sed -n 's/^PKG_RELEASE:=//p' openwrt/net/smoltracker/Makefile)}"
IPK_VERSION="$PKG_VERSION-${PKG_RELEASE:-1}"
APK_VERSION="$PKG_VERSION-r${PKG_RELEASE:-1}"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH
DESCRIPTION="A small BitTorrent tracker with a fixed memory cap: HTTP and UDP, IPv4 and IPv6, whitelist re-read on SIGHUP without dropping peers. Reads opentracker's config syntax; configured here through UCI."
CONFFILES="/etc/config/smoltracker
/etc/smoltracker/whitelist"

TOOLS="$(cross/openwrt-tools.sh)"
APK="$TOOLS/sbin/apk"
USIGN="$TOOLS/bin/usign"

if [ $# -eq 0 ]; then
	for b in "$BIN_DIR"/smoltracker-*; do
		[ -f "$b" ] && set -- "$@" "${b#"$BIN_DIR"/smoltracker-}"
	done
fi
[ $# -gt 0 ] || { echo "package.sh: no binaries in $BIN_DIR (run cross/build.sh)" >&2; exit 1; }

# ---- keys -------------------------------------------------------------------------------
if [ -n "${SIGN_KEY_USIGN:-}" ]; then
	usign_sec="$SIGN_KEY_USIGN"
	usign_pub="${SIGN_KEY_USIGN_PUB:-$SIGN_KEY_USIGN.pub}"
else
	usign_sec="$KEYS/usign.sec" usign_pub="$KEYS/usign.pub"
	if [ ! -f "$usign_sec" ]; then
		mkdir -p "$KEYS" && chmod 0700 "$KEYS"
		"$USIGN" -G -c "smoltracker throwaway feed key" -s "$usign_sec" -p "$usign_pub"
	fi
fi
if [ -n "${SIGN_KEY_APK:-}" ]; then
	apk_sec="$SIGN_KEY_APK"
else
	apk_sec="$KEYS/apk.pem"
	if [ ! -f "$apk_sec" ]; then
		mkdir -p "$KEYS" && chmod 0700 "$KEYS"
		(umask 077 && openssl ecparam -name prime256v1 -genkey -noout -out "$apk_sec")
	fi
fi
for k in "$usign_sec" "$usign_pub" "$apk_sec"; do
	[ -r "$k" ] || { echo "package.sh: cannot read key $k" >&2; exit 1; }
done
mkdir -p "$OUT/ipk" "$OUT/apk"
cp "$usign_pub" "$OUT/ipk/$NAME-feed.pub"
openssl ec -in "$apk_sec" -pubout -out "$OUT/apk/$NAME-feed.pem" 2> /dev/null

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# mkndx checks each package's signature against the keys it trusts: just ours.
mkdir "$tmp/apk-keys"
cp "$OUT/apk/$NAME-feed.pem" "$tmp/apk-keys/"

# GNU tar, as ipkg-build runs it (owner forced to root so it needs no fakeroot).
mktar() { # DIR MEMBERS... -> stdout (gzip -n: no name/time in the gzip header)
	local dir="$1"
	shift
	tar -C "$dir" --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$SOURCE_DATE_EPOCH" -cf - "$@" | gzip -n
}

# OpenWrt's generated maintainer scripts (package-pack.mk), with the current guard:
# outside a router root (no functions.sh, e.g. an image build's offline root) they do
# nothing instead of failing. default_postinst enables and starts the service on a live
# router (only enables into an offline root); default_prerm stops and disables it.
script_head() { # the guard and the environment both kinds of script start with
	cat <<-SCRIPT
		[ -s \${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
		. \${IPKG_INSTROOT}/lib/functions.sh
		export root="\${IPKG_INSTROOT}"
		export pkgname="$NAME"
	SCRIPT
}
postinst_body() { # [PKG_UPGRADE]
	echo '#!/bin/sh'
	[ -z "${1:-}" ] || echo 'export PKG_UPGRADE=1'
	echo '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0'
	script_head
	printf '%s\n' add_group_and_user default_postinst
}
prerm_body() {
	echo '#!/bin/sh'
	script_head
	echo default_prerm
}

for arch in "$@"; do
	bin="$BIN_DIR/smoltracker-$arch"
	[ -f "$bin" ] || { echo "package.sh: missing $bin" >&2; exit 1; }
	d="$tmp/$arch"
	data="$d/data" ctl="$d/CONTROL" scripts="$d/scripts"
	mkdir -p "$data" "$ctl" "$scripts"
	chmod 0755 "$data" "$ctl" # the "./" entry: opkg must not see a 0700 root
	# The one file set: what Package/smoltracker/install does in the feed Makefile.
	install -d -m0755 "$data/usr/bin" "$data/etc/init.d" "$data/etc/config" "$data/etc/smoltracker"
	install -m0755 "$bin" "$data/usr/bin/smoltracker"
	install -m0755 "$FILES/smoltracker.init" "$data/etc/init.d/smoltracker"
	install -m0600 "$FILES/smoltracker.config" "$data/etc/config/smoltracker" # INSTALL_CONF
	install -m0644 "$FILES/whitelist" "$data/etc/smoltracker/whitelist"       # nobody reads it

	# ---- .ipk (ipkg-build) ----
	mktar "$data" . > "$d/data.tar.gz"
	size="$(gzip -dc "$d/data.tar.gz" | wc -c)"
	# Fields in package-ipkg.mk's order. No Depends: the binary is static (an SDK build
	# links musl dynamically and gets Depends: libc). Description lines start with a space.
	cat > "$ctl/control" <<-CONTROL
		Package: $NAME
		Version: $IPK_VERSION
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
	printf '%s\n' "$CONFFILES" | sort > "$ctl/conffiles"
	postinst_body > "$ctl/postinst"
	prerm_body > "$ctl/prerm"
	chmod 0644 "$ctl/control" "$ctl/conffiles"
	chmod 0755 "$ctl/postinst" "$ctl/prerm"
	mktar "$ctl" . > "$d/control.tar.gz"
	echo "2.0" > "$d/debian-binary"
	chmod 0644 "$d/debian-binary" "$d/data.tar.gz" "$d/control.tar.gz"
	feed="$OUT/ipk/$arch"
	mkdir -p "$feed"
	rm -f "$feed"/*.ipk # older versions would stay in the index
	ipk="$feed/${NAME}_${IPK_VERSION}_$arch.ipk"
	# Members named explicitly keep this order (--sort only orders directory contents).
	mktar "$d" ./debian-binary ./data.tar.gz ./control.tar.gz > "$ipk"
	echo "$ipk"

	# Feed index as scripts/ipkg-make-index.sh writes it: each control with Filename,
	# Size and SHA256sum inserted before Description, a blank line after each.
	(
		cd "$feed"
		for f in *.ipk; do
			tar -xzOf "$f" ./control.tar.gz | tar -xzOf - ./control | sed -e "s/^Description:/Filename: $f\\
Size: $(stat -c %s "$f")\\
SHA256sum: $(sha256sum "$f" | cut -d' ' -f1)\\
Description:/"
			echo
		done > Packages
		gzip -9nc Packages > Packages.gz
	)
	"$USIGN" -S -m "$feed/Packages" -s "$usign_sec" -x "$feed/Packages.sig"

	# ---- .apk v3 (apk mkpkg), same files plus apk's metadata in lib/apk/packages ----
	meta="$data/lib/apk/packages"
	install -d -m0755 "$data/lib" "$data/lib/apk" "$meta"
	(cd "$data" && find . \( -type f -o -type l \) ! -path ./lib/apk/packages/\* | sed 's|^\.||' | sort) > "$meta/$NAME.list"
	printf '%s\n' "$CONFFILES" > "$meta/$NAME.conffiles"
	# path + sha256 of each conffile as shipped: lets sysupgrade tell edited ones apart.
	while read -r f; do echo "$f $(sha256sum "$data$f" | cut -d' ' -f1)"; done < "$meta/$NAME.conffiles" > "$meta/$NAME.conffiles_static"
	chmod 0644 "$meta"/*
	postinst_body > "$scripts/post-install"
	postinst_body upgrade > "$scripts/post-upgrade"
	prerm_body > "$scripts/pre-deinstall"
	find "$data" "$scripts" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	feed="$OUT/apk/$arch"
	mkdir -p "$feed"
	rm -f "$feed"/*.apk
	apk="$feed/$NAME-$APK_VERSION.apk"
	"$APK" mkpkg --sign-key "$apk_sec" \
		--info "name:$NAME" --info "version:$APK_VERSION" \
		--info "description:$DESCRIPTION" --info "arch:$arch" --info "license:MIT" \
		--info "origin:$NAME" --info "maintainer:smoltracker developers" \
		--script "post-install:$scripts/post-install" \
		--script "post-upgrade:$scripts/post-upgrade" \
		--script "pre-deinstall:$scripts/pre-deinstall" \
		--files "$data" --output "$apk"
	echo "$apk"
	"$APK" --keys-dir "$tmp/apk-keys" mkndx --sign-key "$apk_sec" --output "$feed/packages.adb" "$feed"/*.apk > /dev/null
	echo "$feed/packages.adb"
done
