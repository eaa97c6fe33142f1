#!/usr/bin/env bash
# Runs every flood test against the release binary, on loopback only.
#
#   tests/flood/run.sh [--quick]
#
# --quick is the CI-sized run (the whole suite in under two minutes); without
# it the sizes are the issue's: 1M announces, 2000 idle connections, 30 s of
# garbage. Set FLOOD_ALLOW_SLOWLORIS=1 to report slow connections that outlive
# the 10 s request timeout as a finding instead of a failure.
# Prints each test's RESULT line and a summary; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
quick=0
[[ ${1:-} == --quick ]] && quick=1
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }

python3 -c 'import sys; sys.path.insert(0, "tests/flood"); import common; common.build()' || exit 2

slow_extra=()
[[ ${FLOOD_ALLOW_SLOWLORIS:-0} == 1 ]] && slow_extra=(--allow-slowloris)
if ((quick)); then
  runs=("announce_flood --count 200000"
        "garbage --seconds 10"
        "hup_storm --seconds 5"
        "slow_connections --idle 1000 --slow 300 --slow-window 20 ${slow_extra[*]:-}")
else
  runs=("announce_flood --count 1000000"
        "garbage --seconds 30"
        "hup_storm --seconds 10"
        "slow_connections --idle 2000 --slow 300 --slow-window 40 ${slow_extra[*]:-}")
fi

logs=$(mktemp -d)
failed=0
summary=()
for r in "${runs[@]}"; do
  read -r -a argv <<<"$r"
  name=${argv[0]}
  echo "=== $name (${argv[*]:1})"
  start=$(date +%s)
  python3 "tests/flood/$name.py" "${argv[@]:1}" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  took=$(($(date +%s) - start))
  if ((rc == 0)); then status=PASS; else status=FAIL; failed=1; fi
  summary+=("$(printf '%-18s %-4s %4ss  %s' "$name" "$status" "$took" \
    "$(grep -h -m1 -E '^(RESULT|FAIL:)' "$logs/$name.log" | cut -c1-220)")")
done
echo
echo "=== flood summary ($([[ $quick == 1 ]] && echo quick || echo full))"
printf '%s\n' "${summary[@]}"
rm -rf "$logs"
exit $failed
