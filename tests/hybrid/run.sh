#!/usr/bin/env bash
# Hybrid (BEP 52) and v2-only releases with real clients: see tests/hybrid/hybrid.py.
#
#   tests/hybrid/run.sh [TRACKER_BINARY] [--timeout S] [--keep]
#
# TRACKER_BINARY defaults to target/release/smoltracker (built if missing).
# Needs root, iproute2, curl, tcpdump and Debian's python3-libtorrent,
# ctorrent, transmission-cli and qbittorrent-nox; installs nothing. Runs on the
# virtual LAN of tests/lab (its run.sh builds, bounds and cleans up). Bounded:
# stopped after 5 minutes (about 70 s normally: ctorrent announces `completed`
# only with its next announce, a minute on).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
LAB_SCRIPT=$here/hybrid.py LAB_LIMIT=300 exec "$here/../lab/run.sh" "$@"
