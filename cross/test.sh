#!/usr/bin/env bash
# Run cross-built binaries under qemu-user: a smoke probe, then the black-box tests.
#   cross/test.sh [ARCH ...]      (default: every cross/out/smoltracker-*)
# The integration tests (tests/*.rs) read SMOLTRACKER_BIN and SMOLTRACKER_RUNNER and are
# themselves built and run with the normal host toolchain.
# UNIT=1 also runs the crate's unit tests compiled for the target, under qemu (~2 min per
# target: catches endianness and 32-bit bugs the x86_64 host can't).
# Every arch is tried; exits non-zero if any failed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if [ $# -eq 0 ]; then
  for f in "$OUT"/smoltracker-*; do [ -e "$f" ] && set -- "$@" "${f##*/smoltracker-}"; done
  [ $# -gt 0 ] || { echo "no binaries in $OUT; run cross/build.sh first" >&2; exit 1; }
fi

pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# 1. Smoke: start the binary on a free loopback port, probe UDP connect + HTTP announce.
smoke() {
  local port rc=0
  port=$(python3 "$ROOT/cross/probe.py" freeport)
  $runner "$bin" -i 127.0.0.1 -p "$port" -P "$port" & pid=$!
  python3 "$ROOT/cross/probe.py" 127.0.0.1 "$port" "$port" 30 || rc=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""
  return $rc
}

# 2. The project's black-box tests, pointed at this binary via the env contract.
#    SMOLTRACKER_RUNNER is left unset (not empty) for native x86_64.
blackbox() {
  if ! compgen -G "$ROOT/tests/*.rs" >/dev/null; then
    echo "   (no tests/*.rs yet: black-box tests skipped)"; return 0
  fi
  (cd "$ROOT" && env SMOLTRACKER_BIN="$bin" ${runner:+SMOLTRACKER_RUNNER="$runner"} cargo test --no-fail-fast --test '*')
}

# 3. Unit tests built for the target. `cargo zigbuild test` does not exist: call
#    cargo-zigbuild's own `test` subcommand. Full -Zbuild-std: the harness needs unwinding.
unit() {
  (use_cross_toolchain
   [ -z "$runner" ] || export "CARGO_TARGET_$(echo "$triple" | tr a-z- A-Z_)_RUNNER=$runner"
   local which=(--bins); [ ! -f "$ROOT/src/lib.rs" ] || which+=(--lib)
   cd "$ROOT" && nice -n 10 cargo-zigbuild test "${which[@]}" --target "$triple" -Zbuild-std)
}

summary="" failed=0
for want in "$@"; do
  IFS=: read -r triple arch runner <<< "$(lookup "$want")"
  bin="$OUT/smoltracker-$arch"
  echo "== $arch ${runner:+(under $runner)}"
  res=""
  if [ ! -x "$bin" ]; then res="missing (cross/build.sh $arch)"
  else
    smoke    && res+="smoke ok"     || res+="smoke FAILED"
    blackbox && res+=", tests ok"   || res+=", tests FAILED"
    if [ "${UNIT:-0}" = 1 ]; then unit && res+=", unit ok" || res+=", unit FAILED"; fi
  fi
  case "$res" in *ok*FAILED*|*FAILED*|missing*) failed=1 ;; esac
  summary+=$(printf '%-26s %s' "$arch" "$res")$'\n'
done
printf '\n%s' "$summary"
exit $failed
