#!/usr/bin/env bash
# Build stripped, fully static (non-PIE) musl binaries of smoltracker for OpenWrt targets.
#   cross/build.sh [TARGET_OR_ARCH ...|all]     (default: all)
# Output: cross/out/smoltracker-<openwrt-arch>.  Env: SMALL=0 keeps panic messages (bigger).
# Needs cross/setup.sh first. Never touches the host build: own target dir, flags only in env.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/cross/out"
# Separate target dir: these RUSTFLAGS/-Zbuild-std must not invalidate the host's target/.
export CARGO_TARGET_DIR="$ROOT/target/cross"

# rust target triple <-> OpenWrt package arch
ALL="mips-unknown-linux-musl:mips_24kc
mipsel-unknown-linux-musl:mipsel_24kc
armv7-unknown-linux-musleabihf:arm_cortex-a7_neon-vfpv4
aarch64-unknown-linux-musl:aarch64_cortex-a53
x86_64-unknown-linux-musl:x86_64"

# What `file` must say for each arch (besides "statically linked").
file_pattern() {
  case "$1" in
    mips_24kc)   echo 'ELF 32-bit MSB executable, MIPS, MIPS32 rel2' ;;
    mipsel_24kc) echo 'ELF 32-bit LSB executable, MIPS, MIPS32 rel2' ;;
    arm_*)       echo 'ELF 32-bit LSB executable, ARM, EABI5' ;;
    aarch64_*)   echo 'ELF 64-bit LSB executable, ARM aarch64' ;;
    x86_64)      echo 'ELF 64-bit LSB executable, x86-64' ;;
  esac
}

# Resolve args (triple or arch name) to "triple:arch" lines.
pairs=""
[ $# -eq 0 ] && set -- all
for want in "$@"; do
  if [ "$want" = all ]; then pairs="$ALL"; break; fi
  hit=$(printf '%s\n' "$ALL" | awk -F: -v w="$want" '$1==w || $2==w')
  [ -n "$hit" ] || { echo "unknown target/arch: $want" >&2; printf '%s\n' "$ALL" >&2; exit 2; }
  pairs="${pairs:+$pairs
}$hit"
done

# The zig linker comes from the default python3's ziglang; with /usr/bin first on PATH,
# Debian's python3 (without ziglang) would be found instead, so pin zig's path now.
ZIG_PY="$(command -v python3)"
export CARGO_ZIGBUILD_PYTHON_PATH="$ZIG_PY"

# Debian's Rust 1.96 (has rust-src for -Zbuild-std; rustup's toolchains don't), nightly
# features unlocked with RUSTC_BOOTSTRAP.
export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
# static, not static-pie (static-pie segfaults under qemu-mipsel); link-self-contained=no so
# armv7/aarch64 don't look for rustc's own (absent) crt1.o -- zig supplies musl's.
RUSTFLAGS="-C relocation-model=static -C link-self-contained=no"
BUILD_STD=(-Zbuild-std=std,panic_abort)
if [ "${SMALL:-1}" = 1 ]; then
  # Size: panics abort immediately without formatting a message; std built for size.
  RUSTFLAGS="$RUSTFLAGS -Zunstable-options -Cpanic=immediate-abort"
  BUILD_STD+=(-Zbuild-std-features=optimize_for_size)
fi
export RUSTFLAGS

mkdir -p "$OUT"
table=""
while IFS=: read -r triple arch; do
  echo "== $triple ($arch)"
  start=$(date +%s)
  (cd "$ROOT" && nice -n 10 cargo zigbuild --release --target "$triple" "${BUILD_STD[@]}")
  bin="$OUT/smoltracker-$arch"
  cp "$CARGO_TARGET_DIR/$triple/release/smoltracker" "$bin"
  desc=$(file -b "$bin")
  echo "   $desc"
  case "$desc" in
    "$(file_pattern "$arch")"*"statically linked"*) ;;
    *) echo "FAIL: $bin is not a static $arch executable" >&2; exit 1 ;;
  esac
  size=$(stat -c %s "$bin")
  table="$table$(printf '%-26s %9d %7d KB %5ds' "$arch" "$size" $(( (size + 1023) / 1024 )) $(( $(date +%s) - start )))
"
done <<< "$pairs"

printf '\n%-26s %9s %10s %6s\n' arch bytes size time
printf '%s' "$table"
