#!/usr/bin/env bash
# Engine benchmark: our backup/restore vs sqlite3 .backup + pigz, restic, gzip, gunzip.
# Usage: bench/engine/run.sh [--size-mib 1024] [--small-mib 256] [--reps 3]
# Needs: sqlite3 pigz restic gzip time (apt-get install sqlite3 pigz restic time).
# Generated databases and outputs go to ${MFB_BENCH_DATA:-/work/bench-data}, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in sqlite3 pigz restic gzip gunzip sha256sum; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install sqlite3 pigz restic gzip time)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
exec node_modules/.bin/tsx bench/engine/run.ts "$@"
