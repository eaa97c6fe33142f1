#!/usr/bin/env bash
# Build stripped, fully static (non-PIE) musl binaries of smoltracker for OpenWrt targets.
#   cross/build.sh [TARGET_OR_ARCH ...|all]     (default: all)
# Output: cross/out/smoltracker-<openwrt-arch>.  SMALL=0 keeps panic messages (2x bigger).
# Needs cross/setup.sh first. Never touches the host build: own target dir, flags only in env.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

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

[ $# -eq 0 ] || [ "$*" = all ] && set -- $(printf '%s\n' "$TARGETS" | cut -d: -f2)
pairs=""
for want in "$@"; do pairs+=$(lookup "$want")$'\n'; done

use_cross_toolchain
BUILD_STD=(-Zbuild-std=std,panic_abort)
if [ "${SMALL:-1}" = 1 ]; then
  # Size: panics abort at once without formatting a message; std built for size.
  # No unwinding ever happens, so no unwind tables either (-28 KB on mipsel).
  # No `{:?}` output is ever shown (panics print nothing), so Debug impls
  # and panic locations are left out too.
  RUSTFLAGS="$RUSTFLAGS -Zunstable-options -Cpanic=immediate-abort -Cforce-unwind-tables=no"
  RUSTFLAGS="$RUSTFLAGS -Zfmt-debug=none -Zlocation-detail=none"
  # Fewer MIR passes (inlining, mostly) before LLVM's size-tuned ones: -0.8 KB.
  RUSTFLAGS="$RUSTFLAGS -Zmir-opt-level=1"
  # ... and no unwind tables in musl's C code either (a linker script, as
  # zig's linker driver drops --no-eh-frame-hdr and friends).
  RUSTFLAGS="$RUSTFLAGS -Clink-arg=-Wl,-T,$ROOT/cross/no-eh-frame.ld"
  BUILD_STD+=(-Zbuild-std-features=optimize_for_size)
fi

mkdir -p "$OUT"
table=""
while IFS=: read -r triple arch _; do
  echo "== $triple ($arch)"
  start=$(date +%s)
  # Routers: size first (Cargo.toml's release profile is tuned for the host's speed).
  (cd "$ROOT" && CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-z} \
    nice -n 10 cargo zigbuild --release --target "$triple" "${BUILD_STD[@]}")
  bin="$OUT/smoltracker-$arch"
  cp "$CARGO_TARGET_DIR/$triple/release/smoltracker" "$bin"
  # MIPS objects carry .pdr, procedure descriptors for debuggers that are
  # never loaded and that the linker's strip keeps: 80 KB of the file.
  # .comment (the toolchains' version strings) is never loaded either.
  case "$arch" in
    mips_*) mips-linux-gnu-objcopy --remove-section=.pdr --remove-section=.comment "$bin" ;;
    mipsel_*) mipsel-linux-gnu-objcopy --remove-section=.pdr --remove-section=.comment "$bin" ;;
  esac
  desc=$(file -b "$bin")
  echo "   $desc"
  case "$desc" in
    "$(file_pattern "$arch")"*"statically linked"*) ;;
    *) echo "FAIL: $bin is not a static $arch executable" >&2; exit 1 ;;
  esac
  size=$(stat -c %s "$bin")
  table+=$(printf '%-26s %9d %7d KB %5ds' "$arch" "$size" $(( (size + 1023) / 1024 )) $(( $(date +%s) - start )))$'\n'
done <<< "${pairs%$'\n'}"

printf '\n%-26s %9s %10s %6s\n' arch bytes size time
printf '%s' "$table"
