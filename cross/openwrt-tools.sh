#!/usr/bin/env bash
# cross/openwrt-tools.sh — build OpenWrt's own service and package tools from the source
# archives in ../shared/vendor/openwrt (none of them is copied into this tree): libubox +
# jshn, ubusd + ubus, uci, udebug, procd, jsonfilter, opkg-lede (opkg, OpenWrt 24.10 and
# older), apk-tools v3 (apk, 25.12) and usign (feed signatures). Host (x86_64, glibc)
# binaries into target/openwrt-tools/{bin,sbin,lib} (outside git). About a minute on 2
# cores; a second run with the same sources returns at once (stamp file).
#   cross/openwrt-tools.sh            -> prints the prefix
#   VENDOR=/path/to/vendor/openwrt cross/openwrt-tools.sh
# Needs (Debian): cmake pkg-config gcc make libjson-c-dev meson ninja-build libssl-dev
# zlib1g-dev libzstd-dev.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENDOR="${VENDOR:-$ROOT/../shared/vendor/openwrt}"
P="${OPENWRT_TOOLS:-$ROOT/target/openwrt-tools}"
[ -d "$VENDOR" ] || { echo "openwrt-tools.sh: no $VENDOR" >&2; exit 1; }
VENDOR="$(cd "$VENDOR" && pwd)"

# Rebuilt when the sources or this script change.
stamp="$( (cd "$VENDOR" && sha256sum ./*.tar.gz compat/*) | cat - "$0" | sha256sum | cut -c1-16)"
if [ -f "$P/.stamp" ] && [ "$(cat "$P/.stamp")" = "$stamp" ]; then
	echo "$P"
	exit 0
fi

rm -rf "$P"
SRC="$P/src"
mkdir -p "$SRC" "$P/log"
log() { echo "openwrt-tools: $*" >&2; }
for a in libubox ubus uci udebug procd jsonpath opkg-lede apk-tools usign; do
	tar -xzf "$VENDOR/$a.tar.gz" -C "$SRC"
done

JOBS="$(nproc)"
# Every library goes into $P/lib, found at run time through the rpath.
cmake_build() { # NAME [CMAKE ARGS...] ; TARGETS env: make targets (default all)
	local name="$1" b="$SRC/$1/build"
	shift
	log "$name"
	[ -z "${IN_SOURCE:-}" ] || b="$SRC/$name" # jsonpath runs contrib/lemon by a relative path
	cmake -S "$SRC/$name" -B "$b" -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_PREFIX_PATH="$P" \
		-DCMAKE_INSTALL_RPATH="$P/lib" -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON \
		-DCMAKE_C_FLAGS="-I$P/include ${CFLAGS_EXTRA:-}" \
		-DCMAKE_EXE_LINKER_FLAGS="-L$P/lib -Wl,-rpath,$P/lib" \
		-DCMAKE_SHARED_LINKER_FLAGS="-L$P/lib -Wl,-rpath,$P/lib" \
		"$@" > "$P/log/$name.log" 2>&1 || { tail -30 "$P/log/$name.log" >&2; return 1; }
	make -C "$b" -j"$JOBS" ${TARGETS:-} >> "$P/log/$name.log" 2>&1 ||
		{ tail -30 "$P/log/$name.log" >&2; return 1; }
}
cmake_install() { # NAME
	local b="$SRC/$1/build"
	[ -d "$b" ] || b="$SRC/$1"
	make -C "$b" install >> "$P/log/$1.log" 2>&1 || { tail -30 "$P/log/$1.log" >&2; return 1; }
}

cmake_build libubox -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF ; cmake_install libubox
cmake_build ubus -DBUILD_LUA=OFF -DBUILD_EXAMPLES=OFF ; cmake_install ubus
cmake_build uci -DBUILD_LUA=OFF ; cmake_install uci
# procd links libudebug; the rest of udebug (its daemon) is not needed.
# (ucode is absent: any existing directory satisfies the include path of the unused module.)
TARGETS=udebug cmake_build udebug -Ducode_include_dir="$P/include"
install -m0755 "$SRC"/udebug/build/libudebug.so "$P/lib/"
install -m0644 "$SRC"/udebug/udebug.h "$P/include/"
# glibc 2.36 has no strlcpy (compat header); gcc 12 flags one of procd's debug printfs.
CFLAGS_EXTRA="-include $VENDOR/compat/glibc-strlcpy.h -Wno-error=format-overflow" \
	cmake_build procd -DJAIL_SUPPORT=OFF -DSECCOMP_SUPPORT=OFF -DUTRACE_SUPPORT=OFF
cmake_install procd
IN_SOURCE=1 cmake_build jsonpath ; cmake_install jsonpath
cmake_build opkg-lede -DBUILD_TESTS=OFF ; cmake_install opkg-lede
cmake_build usign ; cmake_install usign

log apk-tools
(
	cd "$SRC/apk-tools"
	meson setup build --prefix="$P" --libdir=lib -Ddefault_library=static \
		-Ddocs=disabled -Dhelp=disabled -Dlua=disabled -Dpython=disabled -Dtests=disabled \
		-Dcrypto_backend=openssl -Durl_backend=libfetch -Dzstd=enabled
	ninja -C build -j"$JOBS" src/apk
	install -D -m0755 build/src/apk "$P/sbin/apk"
) > "$P/log/apk-tools.log" 2>&1 || { tail -30 "$P/log/apk-tools.log" >&2; exit 1; }

# Names as OpenWrt installs them.
ln -sf jsonpath "$P/bin/jsonfilter"
ln -sf opkg-cl "$P/bin/opkg"
# jshn.sh where OpenWrt keeps it.
install -D -m0644 "$SRC/libubox/sh/jshn.sh" "$P/share/libubox/jshn.sh"
for b in bin/ubus bin/uci bin/jshn bin/jsonfilter bin/opkg bin/usign sbin/ubusd sbin/procd sbin/apk; do
	[ -x "$P/$b" ] || { echo "openwrt-tools.sh: $P/$b was not built" >&2; exit 1; }
done
rm -rf "$SRC"
echo "$stamp" > "$P/.stamp"
echo "$P"
