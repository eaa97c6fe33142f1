#!/usr/bin/env bash
# Run cross-built binaries under qemu-user: a smoke probe, then the black-box tests.
#   cross/test.sh [ARCH ...]      (default: every cross/out/smoltracker-*)
# The integration tests (tests/*.rs) read SMOLTRACKER_BIN and SMOLTRACKER_RUNNER and are
# themselves built and run with the normal host toolchain.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/cross/out"

runner_for() {  # qemu-user runner per OpenWrt arch; x86_64 runs natively
  case "$1" in
    mips_24kc)   echo qemu-mips-static ;;
    mipsel_24kc) echo qemu-mipsel-static ;;
    arm_*)       echo qemu-arm-static ;;
    aarch64_*)   echo qemu-aarch64-static ;;
    x86_64)      echo "" ;;
    *) echo "unknown arch $1" >&2; return 1 ;;
  esac
}

if [ $# -eq 0 ]; then
  for f in "$OUT"/smoltracker-*; do [ -e "$f" ] && set -- "$@" "${f##*/smoltracker-}"; done
  [ $# -gt 0 ] || { echo "no binaries in $OUT; run cross/build.sh first" >&2; exit 1; }
fi

pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

results=""
for arch in "$@"; do
  bin="$OUT/smoltracker-$arch"
  [ -x "$bin" ] || { echo "missing $bin; run cross/build.sh $arch" >&2; exit 1; }
  runner=$(runner_for "$arch")
  echo "== $arch ${runner:+(under $runner)}"

  # 1. Smoke: start it on a free loopback port, probe UDP connect + HTTP announce.
  port=$(python3 "$ROOT/cross/probe.py" freeport)
  $runner "$bin" -i 127.0.0.1 -p "$port" -P "$port" & pid=$!
  python3 "$ROOT/cross/probe.py" 127.0.0.1 "$port" "$port" 30
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

  # 2. The project's black-box tests, pointed at this binary via the env contract.
  if compgen -G "$ROOT/tests/*.rs" >/dev/null; then
    # SMOLTRACKER_RUNNER is left unset (not empty) for native x86_64.
    (cd "$ROOT" && env SMOLTRACKER_BIN="$bin" ${runner:+SMOLTRACKER_RUNNER="$runner"} cargo test --test '*')
  else
    echo "   (no tests/*.rs yet: black-box tests skipped)"
  fi
  results="$results$arch ok
"
done
printf '\n%s' "$results"
