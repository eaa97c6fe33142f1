#!/usr/bin/env bash
# cross/release.sh — everything a release publishes, in one folder (default cross/out/release/):
#   smoltracker-VERSION-ARCH.tar.gz     ARCH = x86_64 aarch64 armv7 mips mipsel: the static
#                                       binary, opentracker.conf (the sample), smoltracker.conf
#                                       + whitelist (what the .deb installs), smoltracker.service
#                                       (for /usr/local/bin), LICENSE, man pages if docs/ has any
#   smoltracker_VERSION-REV_DEBARCH.deb amd64 arm64 armhf: /usr/bin, conffiles in
#                                       /etc/smoltracker, the unit, enabled and started on install
#   smoltracker-VERSION-oci-amd64.tar   OCI image (FROM scratch, podman save --format oci-archive)
#   openwrt/ipk/..., openwrt/apk/...    the signed OpenWrt feeds (cross/package.sh), when
#                                       OpenWrt's tools are built (cross/openwrt-tools.sh)
#   SHA256SUMS, SHA256SUMS.sig          checksums of all of the above (sha256sum --tag, which
#                                       `sha256sum -c` reads) and their signify signature
#   smoltracker-release.pub             the signify public key
# Verify:  signify-openbsd -V -p smoltracker-release.pub -m SHA256SUMS && sha256sum -c SHA256SUMS
#
# Binaries: cross/build.sh (needs cross/setup.sh once) is run for the five architectures
# first, unless BUILD=0 (then cross/out/smoltracker-ARCH must exist).
# Environment:
#   SIGN_KEY_SIGNIFY=FILE  signify secret key for a real release (public key: FILE.pub unless
#                          SIGN_KEY_SIGNIFY_PUB says otherwise); else a throwaway pair is made
#                          once in cross/out/keys/ (KEYS_DIR), as cross/package.sh does
#   DEB_REVISION=N         Debian revision (default 1): smoltracker_VERSION-N_ARCH.deb
#   RELEASE_OUT=DIR        output folder (emptied first)
#   IMAGE=0                no OCI image (default: built when podman is installed)
#   OPENWRT=0|1            OpenWrt feeds (default: when target/openwrt-tools is built)
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's time); the
# tarballs and .debs are byte-identical between runs of the same tree and binaries.
# Needs: dpkg-deb, signify-openbsd, gzip, xz; podman for the image.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
# shellcheck source=cross/env.sh
. cross/env.sh

NAME=smoltracker
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
DEB_REVISION="${DEB_REVISION:-1}"
DEB_VERSION="$VERSION-$DEB_REVISION"
REL="${RELEASE_OUT:-cross/out/release}"
KEYS="${KEYS_DIR:-cross/out/keys}"
MAINTAINER="smoltracker developers <smoltracker@example.invalid>"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

# OpenWrt arch : tarball arch : Debian arch (- = no .deb)
ARCHES="x86_64:x86_64:amd64
aarch64_cortex-a53:aarch64:arm64
arm_cortex-a7_neon-vfpv4:armv7:armhf
mips_24kc:mips:-
mipsel_24kc:mipsel:-"

for tool in dpkg-deb signify-openbsd xz; do
	command -v "$tool" > /dev/null || { echo "release.sh: $tool missing (apt-get install dpkg signify-openbsd xz-utils)" >&2; exit 1; }
done

if [ "${BUILD:-1}" = 1 ]; then
	# shellcheck disable=SC2046 # one word per arch
	cross/build.sh $(printf '%s\n' "$ARCHES" | cut -d: -f1)
fi

rm -rf "$REL"
mkdir -p "$REL"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ---- the files every artifact shares ---------------------------------------------------
# The packaged config: the sample with the whitelist on (an empty list: nothing is served
# until a hash is added, so installing never opens a public tracker), the state file and
# the FIFOs switched on. Each line must have been found, or the sample changed under us.
packaged_conf() {
	{
		echo "# /etc/smoltracker/smoltracker.conf — smoltracker $VERSION as packaged: the sample"
		echo "# config (opentracker.conf syntax) with access.whitelist, the access FIFOs and"
		echo "# tracker.state_file switched on. The service runs as a dynamic user (systemd's"
		echo "# DynamicUser=): keep this file and the whitelist world-readable."
		echo "# After editing: systemctl restart smoltracker (whitelist only: reload)."
		echo
		sed -e 's|^# access\.whitelist /etc/smoltracker/whitelist$|access.whitelist /etc/smoltracker/whitelist|' \
			-e 's|^# access\.fifo_add /var/run/smoltracker/adder\.fifo$|access.fifo_add /run/smoltracker/adder.fifo|' \
			-e 's|^# access\.fifo_delete /var/run/smoltracker/deleter\.fifo$|access.fifo_delete /run/smoltracker/deleter.fifo|' \
			-e 's|^# tracker\.state_file /var/lib/smoltracker/state$|tracker.state_file /var/lib/smoltracker/state|' \
			opentracker.conf
	} > "$1"
	for want in 'access.whitelist /etc/smoltracker/whitelist' 'access.fifo_add /run/smoltracker/adder.fifo' \
		'access.fifo_delete /run/smoltracker/deleter.fifo' 'tracker.state_file /var/lib/smoltracker/state'; do
		grep -qx "$want" "$1" || { echo "release.sh: opentracker.conf no longer has '# $want'" >&2; exit 1; }
	done
}
packaged_conf "$tmp/smoltracker.conf"
MANPAGES=()
for m in docs/*.1 docs/*.5 docs/*.8; do [ -f "$m" ] && MANPAGES+=("$m"); done

mtimes() { find "$@" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }
mktgz() { # DIR NAME OUT: DIR/NAME as a reproducible tar.gz
	tar -C "$1" --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$SOURCE_DATE_EPOCH" -cf - "$2" | gzip -9n > "$3"
}

# ---- tarballs ----------------------------------------------------------------------------
while IFS=: read -r arch tarch _; do
	bin="$OUT/smoltracker-$arch"
	[ -f "$bin" ] || { echo "release.sh: missing $bin (cross/build.sh $arch)" >&2; exit 1; }
	d="$tmp/tar/$NAME-$VERSION-$tarch"
	mkdir -p "$d"
	install -m0755 "$bin" "$d/smoltracker"
	install -m0644 opentracker.conf "$tmp/smoltracker.conf" dist/debian/whitelist LICENSE "$d/"
	# By hand, the binary goes to /usr/local/bin (docs/install.md).
	sed 's|^ExecStart=/usr/bin/smoltracker |ExecStart=/usr/local/bin/smoltracker |' \
		dist/systemd/smoltracker.service > "$d/smoltracker.service"
	grep -q '^ExecStart=/usr/local/bin/smoltracker ' "$d/smoltracker.service" ||
		{ echo "release.sh: the unit's ExecStart is not /usr/bin/smoltracker" >&2; exit 1; }
	chmod 0644 "$d/smoltracker.service"
	for m in "${MANPAGES[@]}"; do install -m0644 "$m" "$d/"; done
	mtimes "$d"
	mktgz "$tmp/tar" "$NAME-$VERSION-$tarch" "$REL/$NAME-$VERSION-$tarch.tar.gz"
	echo "$REL/$NAME-$VERSION-$tarch.tar.gz"
done <<< "$ARCHES"

# ---- .deb --------------------------------------------------------------------------------
changelog() {
	local date
	date="$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
	if [ "$DEB_REVISION" != 1 ]; then
		printf '%s (%s) unstable; urgency=medium\n\n  * Rebuild, revision %s.\n\n -- %s  %s\n\n' \
			"$NAME" "$DEB_VERSION" "$DEB_REVISION" "$MAINTAINER" "$date"
	fi
	printf '%s (%s-1) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n' \
		"$NAME" "$VERSION" "Package of the static musl binary (cross/release.sh)." "$MAINTAINER" "$date"
}
while IFS=: read -r arch _ debarch; do
	[ "$debarch" != - ] || continue
	r="$tmp/deb-$debarch"
	doc="$r/usr/share/doc/$NAME"
	install -d -m0755 "$r/DEBIAN" "$r/usr/bin" "$r/etc/$NAME" "$r/usr/lib/systemd/system" "$doc" \
		"$r/usr/share/lintian/overrides"
	install -m0755 "$OUT/smoltracker-$arch" "$r/usr/bin/$NAME"
	install -m0644 "$tmp/smoltracker.conf" "$r/etc/$NAME/smoltracker.conf"
	install -m0644 dist/debian/whitelist "$r/etc/$NAME/whitelist"
	install -m0644 dist/systemd/smoltracker.service "$r/usr/lib/systemd/system/"
	install -m0644 dist/debian/copyright "$doc/copyright"
	changelog | gzip -9n > "$doc/changelog.Debian.gz"
	chmod 0644 "$doc/changelog.Debian.gz"
	install -m0644 dist/debian/lintian-overrides "$r/usr/share/lintian/overrides/$NAME"
	if [ ! -f docs/smoltracker.1 ]; then
		printf '%s\n' '' '# The man page (docs/smoltracker.1) is being written; until then the' \
			'# manual is /usr/share/doc and "smoltracker -h". Added only while it is missing.' \
			"$NAME: no-manual-page [usr/bin/$NAME]" >> "$r/usr/share/lintian/overrides/$NAME"
	fi
	for m in "${MANPAGES[@]}"; do
		sec="${m##*.}"
		install -d -m0755 "$r/usr/share/man/man$sec"
		gzip -9nc "$m" > "$r/usr/share/man/man$sec/${m##*/}.gz"
		chmod 0644 "$r/usr/share/man/man$sec/${m##*/}.gz"
	done
	install -m0755 dist/debian/postinst dist/debian/prerm dist/debian/postrm "$r/DEBIAN/"
	printf '/etc/%s/smoltracker.conf\n/etc/%s/whitelist\n' "$NAME" "$NAME" > "$r/DEBIAN/conffiles"
	(cd "$r" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) > "$r/DEBIAN/md5sums"
	size="$(du -sk --exclude=DEBIAN "$r" | cut -f1)"
	# No Depends: the binary is static; the maintainer scripts use init-system-helpers'
	# deb-systemd-helper/-invoke (Priority: required) exactly as debhelper's do.
	cat > "$r/DEBIAN/control" <<-CONTROL
		Package: $NAME
		Version: $DEB_VERSION
		Architecture: $debarch
		Maintainer: $MAINTAINER
		Installed-Size: $size
		Section: net
		Priority: optional
		Homepage: https://example.invalid/smoltracker
		Description: small BitTorrent tracker with a fixed memory cap
		 A drop-in successor to opentracker: HTTP and UDP announces and scrapes,
		 IPv4 and IPv6, torrents and peers in tables allocated once from a memory
		 cap, whitelist re-read on SIGHUP (systemctl reload) without dropping peers,
		 opentracker's config syntax and stats pages.
		 .
		 As installed the whitelist is on and empty: nothing is served until info
		 hashes are added to /etc/smoltracker/whitelist.
	CONTROL
	chmod 0644 "$r/DEBIAN/control" "$r/DEBIAN/conffiles" "$r/DEBIAN/md5sums"
	mtimes "$r"
	deb="$REL/${NAME}_${DEB_VERSION}_$debarch.deb"
	dpkg-deb --root-owner-group -Zxz -z9 --build "$r" "$deb" > /dev/null
	echo "$deb"
done <<< "$ARCHES"

# ---- OCI image ---------------------------------------------------------------------------
if [ "${IMAGE:-auto}" = 1 ] || { [ "${IMAGE:-auto}" = auto ] && command -v podman > /dev/null; }; then
	ctx="$tmp/image"
	mkdir -p "$ctx/state"
	install -m0755 "$OUT/smoltracker-x86_64" "$ctx/smoltracker"
	# In the image: an open tracker (mount your own config with access.whitelist for a
	# private one), completed counts kept in /var/lib/smoltracker (a volume, if you like).
	sed -e 's|^# tracker\.state_file /var/lib/smoltracker/state$|tracker.state_file /var/lib/smoltracker/state|' \
		opentracker.conf > "$ctx/smoltracker.conf"
	grep -qx 'tracker.state_file /var/lib/smoltracker/state' "$ctx/smoltracker.conf"
	printf 'smoltracker:x:65532:65532:smoltracker:/var/lib/smoltracker:/sbin/nologin\n' > "$ctx/passwd"
	printf 'smoltracker:x:65532:\n' > "$ctx/group"
	chmod 0644 "$ctx/smoltracker.conf" "$ctx/passwd" "$ctx/group"
	mtimes "$ctx"
	# Private vfs storage: nothing left in the machine's containers storage.
	p=(podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver=vfs)
	tag="localhost/$NAME:$VERSION"
	"${p[@]}" build -q --squash --timestamp "$SOURCE_DATE_EPOCH" -f dist/container/Containerfile \
		--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" \
		--build-arg "CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
		-t "$tag" "$ctx" > /dev/null
	img="$REL/$NAME-$VERSION-oci-amd64.tar"
	"${p[@]}" save -q --format oci-archive -o "$tmp/image.tar" "$tag"
	# The blobs are reproducible (--timestamp); the archive's own member times are not:
	# packed again with fixed times and order (an OCI layout in a tar, as podman load wants).
	mkdir "$tmp/oci" && tar -C "$tmp/oci" -xf "$tmp/image.tar"
	mtimes "$tmp/oci"
	tar -C "$tmp/oci" --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$SOURCE_DATE_EPOCH" -cf "$img" .
	"${p[@]}" rmi -a -f > /dev/null 2>&1 || true
	chmod -R u+w "$tmp/storage" 2> /dev/null || true
	echo "$img"
fi

# ---- OpenWrt feeds -----------------------------------------------------------------------
if [ "${OPENWRT:-auto}" = 1 ] || { [ "${OPENWRT:-auto}" = auto ] && [ -f target/openwrt-tools/.stamp ]; }; then
	FEED_OUT="$REL/openwrt" BIN_DIR="$OUT" cross/package.sh > /dev/null
	echo "$REL/openwrt/{ipk,apk}"
fi

# ---- checksums and signature -------------------------------------------------------------
if [ -n "${SIGN_KEY_SIGNIFY:-}" ]; then
	sec="$SIGN_KEY_SIGNIFY" pub="${SIGN_KEY_SIGNIFY_PUB:-$SIGN_KEY_SIGNIFY.pub}"
else
	sec="$KEYS/signify.sec" pub="$KEYS/signify.pub"
	if [ ! -f "$sec" ]; then
		mkdir -p "$KEYS" && chmod 0700 "$KEYS"
		signify-openbsd -G -n -c "smoltracker throwaway release key" -s "$sec" -p "$pub"
	fi
fi
cp "$pub" "$REL/$NAME-release.pub"
(cd "$REL" && find . -type f ! -name SHA256SUMS ! -name '*.sig' ! -name "$NAME-release.pub" -printf '%P\n' |
	sort | xargs sha256sum --tag) > "$REL/SHA256SUMS"
signify-openbsd -S -s "$sec" -m "$REL/SHA256SUMS" -x "$REL/SHA256SUMS.sig"
signify-openbsd -V -q -p "$REL/$NAME-release.pub" -m "$REL/SHA256SUMS"
(cd "$REL" && sha256sum -c --quiet SHA256SUMS)
echo
(cd "$REL" && find . -maxdepth 1 -type f -printf '%f %s\n' | sort | awk '{ printf "%-40s %9d B %6d KiB\n", $1, $2, ($2 + 1023) / 1024 }')
