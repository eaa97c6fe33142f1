#!/usr/bin/env bash
# Install the cross-build toolchain for smoltracker on Debian 12 (run as root). Idempotent.
#  - Debian's rustc-web/cargo-web 1.96 + rust-web-src: rustup here cannot add targets and its
#    toolchains lack rust-src, so we rebuild std per target with -Zbuild-std from Debian's source.
#  - qemu-user-static: runs the MIPS/ARM binaries for tests.
#  - binutils-mips{,el}-linux-gnu: objcopy drops the MIPS .pdr section (80 KB).
#  - ziglang + cargo-zigbuild (PyPI): zig cc is the musl cross-linker for every target.
set -euo pipefail

have_all() {
  [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] &&
    [ -d /usr/lib/rustlib/src/rust/library/std ] &&
    command -v qemu-mipsel-static >/dev/null &&
    command -v mips-linux-gnu-objcopy >/dev/null &&
    command -v mipsel-linux-gnu-objcopy >/dev/null &&
    command -v cargo-zigbuild >/dev/null &&
    python3 -c 'import ziglang' 2>/dev/null
}

if have_all; then
  echo "cross/setup.sh: toolchain already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then echo "cross/setup.sh: run as root" >&2; exit 1; fi

# Another apt run may hold the dpkg lock; wait for it rather than failing.
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get update
apt_get install -y rustc-web cargo-web rust-web-src qemu-user-static file \
  binutils-mips-linux-gnu binutils-mipsel-linux-gnu

# Use the default python3's pip (pyenv CPython 3.11 here), so `import ziglang` works for it
# and cargo-zigbuild lands in that interpreter's bin dir.
python3 -m pip install --quiet ziglang cargo-zigbuild
# pyenv only exposes new console scripts after a rehash.
if command -v pyenv >/dev/null; then pyenv rehash; fi

if ! have_all; then
  echo "cross/setup.sh: install finished but tools missing (is $(python3 -c 'import sysconfig;print(sysconfig.get_path("scripts"))') on PATH?)" >&2
  exit 1
fi
echo "cross/setup.sh: done"
