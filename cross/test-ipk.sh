#!/usr/bin/env bash
# cross/test-ipk.sh [ARCH ...] — build the .ipk packages with cross/ipk.sh, take them
# apart with plain tar/gzip and check what opkg and OpenWrt expect. One PASS/FAIL line
# per check; exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

fails=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # NAME COMMAND... : PASS when the command succeeds
	local name="$1"
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

cross/ipk.sh "$@" > /dev/null
OUT=cross/out/ipk
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)-$(sed -n 's/^PKG_RELEASE:=//p' openwrt/net/smoltracker/Makefile)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

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
	ipks=("$OUT"/smoltracker_*.ipk)
else
	for a in "$@"; do ipks+=("$OUT/smoltracker_${VERSION}_$a.ipk"); done
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
	check "$arch: postinst/prerm 0755 call default_postinst/default_prerm" bash -c '
		grep -qx -- "-rwxr-xr-x 0/0 ./postinst" "$1/control.list" &&
		grep -qx -- "-rwxr-xr-x 0/0 ./prerm" "$1/control.list" &&
		grep -qx ". \${IPKG_INSTROOT}/lib/functions.sh" "$1/control/postinst" &&
		grep -qx "default_postinst \$0 \$@" "$1/control/postinst" &&
		grep -qx "default_prerm \$0 \$@" "$1/control/prerm"' _ "$w"

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

	entry="$(awk -v f="$name" 'BEGIN{RS=""} $0 ~ "\nFilename: " f "\n"' "$OUT/Packages")"
	check "$arch: Packages entry with the file's Size and SHA256sum" bash -c '
		grep -qx "Size: $(stat -c %s "$2")" <<<"$1" && grep -qx "SHA256sum: $(sha256sum "$2" | cut -d" " -f1)" <<<"$1" &&
		grep -qx "Architecture: $3" <<<"$1"' _ "$entry" "$ipk" "$arch"
done

echo "== feed and reproducibility"
check "Packages.gz is gzip -9n of Packages" bash -c 'gzip -dc "$1/Packages.gz" | cmp -s - "$1/Packages"' _ "$OUT"
check "Packages has one entry per .ipk" [ "$(grep -c '^Package: ' "$OUT/Packages")" = "$(ls "$OUT"/*.ipk | wc -l)" ]
sha256sum "$OUT"/* > "$tmp/first"
sleep 1 # a different wall-clock second must not change a byte
cross/ipk.sh "$@" > /dev/null
check "rebuilding gives byte-identical .ipk and index files" bash -c 'sha256sum "$1"/* | cmp -s - "$2"' _ "$OUT" "$tmp/first"

echo "== $fails failed"
[ "$fails" -eq 0 ]
