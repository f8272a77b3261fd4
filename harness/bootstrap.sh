#!/bin/sh
# First-run setup shared by both README commands: Node present, npm dependencies installed.
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v node >/dev/null 2>&1; then
  echo "vfio-handover: Node.js 20 or newer is needed (apt-get install nodejs npm)" >&2
  exit 2
fi
if [ ! -e "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "vfio-handover: installing npm dependencies" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
