#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, one after another,
# and prints a summary: executions, execs/s, coverage, corpus, crashes.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Builds with debug assertions (integer overflow panics) and AddressSanitizer.
# Corpora grow in fuzz/corpus/<target>/ (only seed/ is committed); crashes
# land in fuzz/artifacts/<target>/ — minimise one with
#   cargo +nightly fuzz tmin -a <target> fuzz/artifacts/<target>/crash-…
# and save it under fuzz/regressions/<target>/ so `cargo test` replays it.
# Exits non-zero when any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(http_head query udp config whitelist state swarm_ops)
jobs=${FUZZ_JOBS:-1}
logs=fuzz/logs
mkdir -p "$logs"

nice -n 10 cargo +nightly fuzz build -a >"$logs/build.log" 2>&1 || {
  tail -30 "$logs/build.log"
  echo "fuzz build failed" >&2
  exit 2
}

declare -A dict=([http_head]=fuzz/dicts/http.dict [query]=fuzz/dicts/http.dict [config]=fuzz/dicts/config.dict)
declare -A maxlen=([http_head]=8192 [swarm_ops]=8192)
failed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -max_len="${maxlen[$t]:-4096}")
  [[ -n ${dict[$t]:-} ]] && args+=(-dict="${dict[$t]}")
  ((jobs > 1)) && args+=(-fork="$jobs")
  echo "== $t: ${secs}s"
  start=$(date +%s)
  nice -n 10 cargo +nightly fuzz run -a "$t" "fuzz/corpus/$t" -- "${args[@]}" >"$logs/$t.log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*')
  corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' <<<"$last" | cut -d' ' -f2)
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) -newer "$logs/build.log" | wc -l)
  status=clean
  if ((rc != 0 || crashes > 0)); then
    status="CRASH (rc $rc, $crashes artifact(s); see $logs/$t.log)"
    failed=1
    grep -m1 -A12 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "$logs/$t.log" | sed 's/^/    /'
  fi
  summary+=("$(printf '%-10s %6ss %12s runs %8s exec/s  cov %-5s ft %-6s corpus %-12s rss %4s MB  %s' \
    "$t" "$took" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$status")")
done
echo
echo "== summary (${secs}s per target, $(date -u +%FT%TZ), $(rustc +nightly --version))"
printf '%s\n' "${summary[@]}" | tee "$logs/summary.txt"
exit $failed
