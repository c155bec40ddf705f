#!/usr/bin/env bash
# CLI start-up: `backupctl --version` compiled (the bin itself, e.g. symlinked onto PATH, and
# through pnpm's shell shim in node_modules/.bin) vs the TypeScript source through tsx,
# against bare `node -e 0`. Needs hyperfine (Debian package) and `pnpm build`.
# Usage: bash bench/cli/startup.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
pnpm -s build
hyperfine -N -w 3 -r "$runs" \
  'apps/cli/bin/backupctl.js --version' \
  'node_modules/.bin/backupctl --version' \
  'node_modules/.bin/tsx --conditions=@mfb/source apps/cli/src/main.ts --version' \
  'node -e 0'
for cmd in 'node_modules/.bin/backupctl --version' 'node_modules/.bin/tsx --conditions=@mfb/source apps/cli/src/main.ts --version'; do
  /usr/bin/time -f "max RSS %M KiB: $cmd" $cmd >/dev/null
done
