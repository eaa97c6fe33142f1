#!/usr/bin/env bash
# Lints the man pages: `mandoc -T lint -W warning` must print nothing (any
# warning or error fails), and, where man-db is installed, so must
# `man --warnings -l` (groff's warnings while formatting each page).
# Which directives and flags the pages list is checked by tests/man_pages.rs.
#
#   tests/man/run.sh          installs Debian's mandoc when missing (as root)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
pages=("$root/docs/smoltracker.1" "$root/docs/smoltracker.conf.5")

if ! command -v mandoc >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "man: mandoc not found (apt-get install mandoc)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mandoc >/dev/null
fi

status=0
out=$(mandoc -T lint -W warning "${pages[@]}" 2>&1) || status=$?
if [ -n "$out" ] || [ "$status" -ne 0 ]; then
    printf '%s\n' "$out" >&2
    echo "man: mandoc -T lint -W warning: exit $status" >&2
    exit 1
fi
echo "man: mandoc -T lint -W warning: clean (${#pages[@]} pages)"

if command -v man >/dev/null && man --version 2>/dev/null | grep -q '^man '; then
    for page in "${pages[@]}"; do
        warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || {
            printf '%s\n' "$warnings" >&2
            echo "man: man --warnings -l $page failed" >&2
            exit 1
        }
        if [ -n "$warnings" ]; then
            printf '%s\n' "$warnings" >&2
            echo "man: man --warnings -l $page: warnings" >&2
            exit 1
        fi
    done
    echo "man: man --warnings -l: clean"
else
    echo "man: man-db not installed; man --warnings skipped"
fi
