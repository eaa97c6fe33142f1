#!/usr/bin/env bash
# cross/test-package.sh [ARCH ...] — build the packages and feeds with cross/package.sh,
# take them apart and check what opkg, apk and OpenWrt expect: .ipk with plain tar/gzip;
# .apk, packages.adb and Packages.sig with the real apk and usign (cross/openwrt-tools.sh):
# signatures verify against the published keys and fail once a byte changes; the .apk
# holds the .ipk's files plus apk's lib/apk/packages metadata; maintainer scripts carry
# OpenWrt's guard and pass an offline-root (image build) install with the real opkg.
# One PASS/FAIL line per check; exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

fails=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
quiet() { "$@" > /dev/null; }
check() { # NAME COMMAND... : PASS when the command succeeds
	local name="$1"
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

cross/package.sh "$@" > /dev/null
TOOLS="$(cross/openwrt-tools.sh)"
APK="$TOOLS/sbin/apk" USIGN="$TOOLS/bin/usign" OPKG="$TOOLS/bin/opkg-cl"
OUT=cross/out/ipk
APK_OUT=cross/out/apk
PKG_VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
PKG_RELEASE="$(sed -n 's/^PKG_RELEASE:=//p' openwrt/net/smoltracker/Makefile)"
VERSION="$PKG_VERSION-$PKG_RELEASE"
APK_VERSION="$PKG_VERSION-r$PKG_RELEASE"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/apk-keys"
cp "$APK_OUT/smoltracker-feed.pem" "$tmp/apk-keys/"

# What `file` must say about each architecture's binary.
elf_of() {
	case "$1" in
	mips_24kc) echo 'ELF 32-bit MSB executable, MIPS' ;;
	mipsel_24kc) echo 'ELF 32-bit LSB executable, MIPS' ;;
	arm_*) echo 'ELF 32-bit LSB executable, ARM, EABI5' ;;
	aarch64_*) echo 'ELF 64-bit LSB executable, ARM aarch64' ;;
	x86_64) echo 'ELF 64-bit LSB executable, x86-64' ;;
	*) echo "unknown arch $1" ;;
	esac
}
field() { sed -n "s/^$1: //p" "$2"; }
# gzip magic 1f 8b 08, and as gzip -n writes it: no FNAME flag (byte 3), MTIME 0 (4-7).
gzip_n() {
	local f
	for f in "$@"; do [ "$(od -An -tx1 -N8 "$f" | tr -d ' \n')" = 1f8b080000000000 ] || return 1; done
}
mode_owner() { # LISTING PATH MODE: the "MODE OWNER NAME" line says MODE, owner 0/0
	grep -qxF -- "$3 0/0 ./${2#/}" "$1"
}
ipks=()
if [ $# -eq 0 ]; then
	ipks=("$OUT"/*/smoltracker_*.ipk)
else
	for a in "$@"; do ipks+=("$OUT/$a/smoltracker_${VERSION}_$a.ipk"); done
fi

for ipk in "${ipks[@]}"; do
	name="$(basename "$ipk")"
	arch="${name#smoltracker_"$VERSION"_}"
	arch="${arch%.ipk}"
	w="$tmp/$arch"
	mkdir -p "$w/data" "$w/control"
	echo "== $name"

	check "$arch: outer file is gzip (not ar), gzip -n header" gzip_n "$ipk"
	check "$arch: outer tar is GNU format" bash -c 'gzip -dc "$1" | head -c 512 | od -An -c -j257 -N8 | tr -d " " | grep -qx "ustar\\\\0"' _ "$ipk"
	check "$arch: members are ./debian-binary ./data.tar.gz ./control.tar.gz in that order" \
		[ "$(tar -tzf "$ipk" | tr '\n' ' ')" = "./debian-binary ./data.tar.gz ./control.tar.gz " ]
	tar -xzf "$ipk" -C "$w"
	check "$arch: debian-binary is \"2.0\\n\"" [ "$(od -An -c "$w/debian-binary" | tr -d ' ')" = '2.0\n' ]
	check "$arch: inner archives written with gzip -n" gzip_n "$w/data.tar.gz" "$w/control.tar.gz"
	tar -xzf "$w/data.tar.gz" -C "$w/data"
	tar -xzf "$w/control.tar.gz" -C "$w/control"
	tar -tzvf "$w/data.tar.gz" --numeric-owner | awk '{print $1, $2, $NF}' > "$w/data.list"
	tar -tzvf "$w/control.tar.gz" --numeric-owner | awk '{print $1, $2, $NF}' > "$w/control.list"

	c="$w/control/control"
	missing=""
	for f in Package Version Source License Section Architecture Installed-Size Description; do
		grep -q "^$f: " "$c" || missing="$missing $f"
	done
	check "$arch: control has Package Version Source License Section Architecture Installed-Size Description${missing:+ (missing:$missing)}" [ -z "$missing" ]
	check "$arch: Package smoltracker, Version $VERSION, License MIT, Section net" \
		[ "$(field Package "$c")/$(field Version "$c")/$(field License "$c")/$(field Section "$c")" = "smoltracker/$VERSION/MIT/net" ]
	check "$arch: Architecture matches the file name" [ "$(field Architecture "$c")" = "$arch" ]
	check "$arch: Installed-Size = bytes of the uncompressed data tar" \
		[ "$(field Installed-Size "$c")" = "$(gzip -dc "$w/data.tar.gz" | wc -c)" ]
	check "$arch: no Depends (static binary needs no libc package)" bash -c '! grep -q "^Depends:" "$1"' _ "$c"
	check "$arch: every control line is 'Field: value' or a space-led continuation" \
		bash -c '! grep -vqE "^([A-Za-z-]+: .*| .+)$" "$1"' _ "$c"

	check "$arch: conffiles sorted and each one a regular file in the package" bash -c '
		[ -s "$1/control/conffiles" ] && LC_ALL=C sort -c "$1/control/conffiles" || exit 1
		while read -r f; do [ -f "$1/data$f" ] && [ ! -L "$1/data$f" ] || exit 1; done < "$1/control/conffiles"' _ "$w"
	check "$arch: conffiles = /etc/config/smoltracker /etc/smoltracker/whitelist" \
		[ "$(tr '\n' ' ' < "$w/control/conffiles")" = "/etc/config/smoltracker /etc/smoltracker/whitelist " ]
	check "$arch: postinst/prerm 0755, OpenWrt's guard, then default_postinst/default_prerm" bash -c '
		grep -qx -- "-rwxr-xr-x 0/0 ./postinst" "$1/control.list" &&
		grep -qx -- "-rwxr-xr-x 0/0 ./prerm" "$1/control.list" &&
		for f in postinst prerm; do
			grep -qx "\[ -s \${IPKG_INSTROOT}/lib/functions.sh \] || exit 0" "$1/control/$f" || exit 1
		done &&
		grep -qx "default_postinst" "$1/control/postinst" && grep -qx "default_prerm" "$1/control/prerm"' _ "$w"
	mkdir -p "$tmp/bare"
	check "$arch: postinst and prerm exit 0 in a root without functions.sh (IPKG_INSTROOT=bare root)" bash -c '
		IPKG_INSTROOT="$2" sh "$1/control/postinst" && IPKG_INSTROOT="$2" sh "$1/control/prerm"' _ "$w" "$tmp/bare"

	check "$arch: data holds exactly the four files (plus their directories)" \
		[ "$(cd "$w/data" && find . -type f | LC_ALL=C sort | tr '\n' ' ')" = "./etc/config/smoltracker ./etc/init.d/smoltracker ./etc/smoltracker/whitelist ./usr/bin/smoltracker " ]
	check "$arch: every member owned by 0/0, ./ is drwxr-xr-x" bash -c '
		! awk "\$2 != \"0/0\"" "$1" | grep -q . && grep -qx "drwxr-xr-x 0/0 ./" "$1"' _ "$w/data.list"
	check "$arch: /usr/bin/smoltracker -rwxr-xr-x" mode_owner "$w/data.list" /usr/bin/smoltracker -rwxr-xr-x
	check "$arch: /etc/init.d/smoltracker -rwxr-xr-x" mode_owner "$w/data.list" /etc/init.d/smoltracker -rwxr-xr-x
	check "$arch: /etc/config/smoltracker -rw------- (OpenWrt's INSTALL_CONF)" mode_owner "$w/data.list" /etc/config/smoltracker -rw-------
	check "$arch: /etc/smoltracker/whitelist -rw-r--r-- (readable by user nobody)" mode_owner "$w/data.list" /etc/smoltracker/whitelist -rw-r--r--
	check "$arch: init script is '#!/bin/sh /etc/rc.common', parses under busybox ash" bash -c '
		[ "$(head -n1 "$1")" = "#!/bin/sh /etc/rc.common" ] && busybox ash -n "$1"' _ "$w/data/etc/init.d/smoltracker"

	desc="$(file -b "$w/data/usr/bin/smoltracker")"
	check "$arch: binary is $(elf_of "$arch") ($desc)" bash -c '[[ "$1" == "$2"* ]]' _ "$desc" "$(elf_of "$arch")"
	check "$arch: binary is statically linked" bash -c '[[ "$1" == *"statically linked"* ]]' _ "$desc"
	check "$arch: binary is cross/out/smoltracker-$arch" cmp -s "$w/data/usr/bin/smoltracker" "cross/out/smoltracker-$arch"

	feed="$OUT/$arch"
	entry="$(awk -v f="$name" 'BEGIN{RS=""} $0 ~ "\nFilename: " f "\n"' "$feed/Packages")"
	check "$arch: Packages entry with the file's Size and SHA256sum" bash -c '
		grep -qx "Size: $(stat -c %s "$2")" <<<"$1" && grep -qx "SHA256sum: $(sha256sum "$2" | cut -d" " -f1)" <<<"$1" &&
		grep -qx "Architecture: $3" <<<"$1"' _ "$entry" "$ipk" "$arch"
	check "$arch: Packages.gz is gzip -9n of Packages" bash -c 'gzip -dc "$1/Packages.gz" | cmp -s - "$1/Packages"' _ "$feed"
	check "$arch: Packages has one entry, this .ipk" [ "$(grep -c '^Package: ' "$feed/Packages")" = 1 ]
	check "$arch: Packages.sig verifies with usign and the published key" \
		"$USIGN" -V -q -m "$feed/Packages" -p "$OUT/smoltracker-feed.pub"
	sed 's/^Size: /Size: 1/' "$feed/Packages" > "$tmp/Packages"
	cp "$feed/Packages.sig" "$tmp/Packages.sig"
	check "$arch: ... and fails for a changed Packages" bash -c '! "$1" -V -q -m "$2" -p "$3" 2>/dev/null' _ "$USIGN" "$tmp/Packages" "$OUT/smoltracker-feed.pub"

	# ---- the .apk of the same arch ----
	apk="$APK_OUT/$arch/smoltracker-$APK_VERSION.apk"
	idx="$APK_OUT/$arch/packages.adb"
	check "$arch: $(basename "$apk") exists (version PKG_VERSION-rPKG_RELEASE)" [ -f "$apk" ]
	check "$arch: apk verify: .apk signed by the published key" quiet "$APK" --keys-dir "$tmp/apk-keys" verify "$apk"
	check "$arch: apk verify: packages.adb signed by the published key" quiet "$APK" --keys-dir "$tmp/apk-keys" verify "$idx"
	mkdir -p "$tmp/nokeys"
	check "$arch: ... and untrusted without it" bash -c '! "$1" --keys-dir "$2" verify "$3" >/dev/null 2>&1' _ "$APK" "$tmp/nokeys" "$idx"
	cp "$idx" "$tmp/bad.adb"
	printf 'x' | dd of="$tmp/bad.adb" bs=1 seek=100 conv=notrunc status=none
	check "$arch: ... and a changed byte fails it" bash -c '! "$1" --keys-dir "$2" verify "$3" >/dev/null 2>&1' _ "$APK" "$tmp/apk-keys" "$tmp/bad.adb"
	"$APK" adbdump "$apk" > "$w/apk.dump"
	check "$arch: apk info: name smoltracker, version $APK_VERSION, arch $arch, license MIT" bash -c '
		grep -qx "  name: smoltracker" "$1" && grep -qx "  version: $2" "$1" &&
		grep -qx "  arch: $3" "$1" && grep -qx "  license: MIT" "$1"' _ "$w/apk.dump" "$APK_VERSION" "$arch"
	check "$arch: apk scripts post-install, post-upgrade (PKG_UPGRADE=1), pre-deinstall, each with the guard" bash -c '
		for s in post-install post-upgrade pre-deinstall; do grep -qx "  $s: |" "$1" || exit 1; done
		[ "$(grep -c "^    \[ -s \${IPKG_INSTROOT}/lib/functions.sh \] || exit 0$" "$1")" = 3 ] &&
		grep -qx "    export PKG_UPGRADE=1" "$1"' _ "$w/apk.dump"
	check "$arch: index lists smoltracker $APK_VERSION" bash -c '"$1" adbdump "$2" | grep -qx "    version: $3"' _ "$APK" "$idx" "$APK_VERSION"
	mkdir -p "$w/apkroot"
	"$APK" --root "$w/apkroot" --keys-dir "$tmp/apk-keys" --no-network --no-cache --no-logfile --arch "$arch" \
		add --initdb --no-scripts -X "$PWD/$idx" smoltracker > /dev/null 2>&1 || true
	rm -rf "$w/apkroot/etc/apk" "$w/apkroot/lib/apk/db"
	check "$arch: installed from the signed index, the .apk holds the .ipk's files (same bytes, modes) plus lib/apk/packages" bash -c '
		list() { (cd "$1" && find . -path ./lib/apk -prune -o ! -type d -printf "%p %m " -exec sha256sum {} \; | cut -d" " -f1-3 | sort); }
		[ -n "$(list "$1")" ] && [ "$(list "$1")" = "$(list "$2")" ]' _ "$w/apkroot" "$w/data"
	m="$w/apkroot/lib/apk/packages"
	check "$arch: smoltracker.list = the package files" bash -c '
		[ "$(cat "$1/smoltracker.list")" = "$(cd "$2" && find . ! -type d | sed "s|^\.||" | sort)" ]' _ "$m" "$w/data"
	check "$arch: smoltracker.conffiles and conffiles_static (path sha256)" bash -c '
		[ "$(tr "\n" " " < "$1/smoltracker.conffiles")" = "/etc/config/smoltracker /etc/smoltracker/whitelist " ] &&
		while read -r f sum; do [ "$(sha256sum "$2$f" | cut -d" " -f1)" = "$sum" ] || exit 1; done < "$1/smoltracker.conffiles_static" &&
		[ "$(wc -l < "$1/smoltracker.conffiles_static")" = 2 ]' _ "$m" "$w/data"
done

echo "== image build: offline-root install with the real opkg, then the postinst as OpenWrt runs it"
arch="$(basename "$(dirname "${ipks[0]}")")"
img="$tmp/image"
mkdir -p "$img/tmp" "$img/var/lock" "$img/etc/rc.d" "$img/usr/lib/opkg"
cp -R ../shared/vendor/openwrt/rootfs/. "$img/"
install -D -m0644 "$TOOLS/share/libubox/jshn.sh" "$img/usr/share/libubox/jshn.sh"
check "opkg --offline-root install (IPKG_NO_SCRIPT=1) exits 0" bash -c '
	IPKG_NO_SCRIPT=1 IPKG_INSTROOT="$1" TMPDIR="$1/tmp" "$2" --offline-root "$1" --force-postinstall \
		--add-dest root:/ --add-arch all:100 --add-arch "$3:200" install "$4" >/dev/null' _ "$img" "$OPKG" "$arch" "${ipks[0]}"
check "postinst with IPKG_INSTROOT=ROOT exits 0 and enables the service in the image" bash -c '
	IPKG_INSTROOT="$1" bash "$1/usr/lib/opkg/info/smoltracker.postinst" &&
	[ "$(readlink "$1/etc/rc.d/S90smoltracker")" = ../init.d/smoltracker ]' _ "$img"
bare="$tmp/bare-image"
mkdir -p "$bare/tmp" "$bare/var/lock"
check "into a root without OpenWrt's functions.sh: install + postinst exit 0 (the guard)" bash -c '
	IPKG_NO_SCRIPT=1 IPKG_INSTROOT="$1" TMPDIR="$1/tmp" "$2" --offline-root "$1" --force-postinstall \
		--add-dest root:/ --add-arch all:100 --add-arch "$3:200" install "$4" >/dev/null &&
	IPKG_INSTROOT="$1" bash "$1/usr/lib/opkg/info/smoltracker.postinst"' _ "$bare" "$OPKG" "$arch" "${ipks[0]}"

echo "== reproducibility"
sha256sum "$OUT"/*/* > "$tmp/first"
sleep 1 # a different wall-clock second must not change a byte
cross/package.sh "$@" > /dev/null
check "rebuilding gives byte-identical .ipk, Packages, Packages.gz (signatures are new)" bash -c '
	sha256sum "$1"/*/* | grep -v Packages.sig | cmp -s - <(grep -v Packages.sig "$2")' _ "$OUT" "$tmp/first"

echo "== release keys named by SIGN_KEY_USIGN and SIGN_KEY_APK"
rel="$tmp/release"
mkdir -p "$rel/keys"
"$USIGN" -G -c "test release key" -s "$rel/keys/usign.sec" -p "$rel/keys/usign.sec.pub"
openssl ecparam -name prime256v1 -genkey -noout -out "$rel/keys/apk.pem" 2> /dev/null
openssl ec -in "$rel/keys/apk.pem" -pubout -out "$rel/keys/apk.pub.pem" 2> /dev/null
SIGN_KEY_USIGN="$rel/keys/usign.sec" SIGN_KEY_APK="$rel/keys/apk.pem" FEED_OUT="$rel" KEYS_DIR="$rel/no-throwaway" \
	cross/package.sh "$arch" > /dev/null
check "the feeds publish the named keys' public halves, no throwaway key is made" bash -c '
	cmp -s "$1/ipk/smoltracker-feed.pub" "$1/keys/usign.sec.pub" && cmp -s "$1/apk/smoltracker-feed.pem" "$1/keys/apk.pub.pem" &&
	[ ! -e "$1/no-throwaway" ]' _ "$rel"
check "Packages.sig verifies with the release key, not with the throwaway one" bash -c '
	"$1" -V -q -m "$2/ipk/$3/Packages" -p "$2/keys/usign.sec.pub" &&
	! "$1" -V -q -m "$2/ipk/$3/Packages" -p "$4" 2>/dev/null' _ "$USIGN" "$rel" "$arch" "$OUT/smoltracker-feed.pub"
mkdir -p "$rel/apk-keys"
cp "$rel/keys/apk.pub.pem" "$rel/apk-keys/"
check "packages.adb and the .apk verify with the release key, not with the throwaway one" bash -c '
	"$1" --keys-dir "$2/apk-keys" verify "$2/apk/$3/packages.adb" "$2/apk/$3/"*.apk >/dev/null &&
	! "$1" --keys-dir "$4" verify "$2/apk/$3/packages.adb" >/dev/null 2>&1' _ "$APK" "$rel" "$arch" "$tmp/apk-keys"

echo "== $fails failed"
[ "$fails" -eq 0 ]
