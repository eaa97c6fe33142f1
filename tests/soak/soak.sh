#!/usr/bin/env bash
# Soak test: SECONDS (default 600) of mixed load, then expiry; RSS must stay
# flat after warm-up. See tests/soak/soak.py for what is checked.
#
#   tests/soak/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 tests/soak/soak.py "${1:-600}"
