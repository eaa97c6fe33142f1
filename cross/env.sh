# Shared by cross/build.sh and cross/test.sh (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/cross/out"

# rust target triple : OpenWrt package arch : qemu-user runner (none: runs natively)
TARGETS="mips-unknown-linux-musl:mips_24kc:qemu-mips-static
mipsel-unknown-linux-musl:mipsel_24kc:qemu-mipsel-static
armv7-unknown-linux-musleabihf:arm_cortex-a7_neon-vfpv4:qemu-arm-static
aarch64-unknown-linux-musl:aarch64_cortex-a53:qemu-aarch64-static
x86_64-unknown-linux-musl:x86_64:"

# lookup NAME -> "triple:arch:runner" for a triple or an arch name, or fail.
lookup() {
  local hit
  hit=$(printf '%s\n' "$TARGETS" | awk -F: -v w="$1" '$1==w || $2==w')
  [ -n "$hit" ] || { echo "unknown target/arch: $1 (known: $(printf '%s\n' "$TARGETS" | cut -d: -f2 | xargs))" >&2; return 1; }
  echo "$hit"
}

# Toolchain for cross builds; only exported inside the build scripts, never for the host build.
use_cross_toolchain() {
  # zig comes from the default python3's ziglang; once /usr/bin leads PATH, Debian's python3
  # (which has no ziglang) would be picked, so pin the interpreter first.
  export CARGO_ZIGBUILD_PYTHON_PATH="$(command -v python3)"
  # Debian's Rust 1.96: ships rust-src for -Zbuild-std (rustup's toolchains here don't);
  # RUSTC_BOOTSTRAP unlocks the -Z flags on this stable compiler.
  export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
  # Own target dir: these flags must not invalidate the host's target/.
  export CARGO_TARGET_DIR="$ROOT/target/cross"
  # static, not static-pie (static-pie segfaults under qemu-mipsel); link-self-contained=no so
  # armv7/aarch64 don't look for rustc's own (absent) crt1.o -- zig supplies musl's.
  export RUSTFLAGS="-C relocation-model=static -C link-self-contained=no"
}
