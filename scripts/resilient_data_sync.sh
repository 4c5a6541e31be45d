#!/usr/bin/env bash
# Thin wrapper kept for the commands documented for the old Bash script: it runs resilient-sync
# with the same arguments. Builds the TypeScript sources first if this checkout was never built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -f "$root/dist/cli/main.js" ]]; then
  (cd "$root" && npm run build --silent >&2)
fi
exec node "$root/dist/cli/main.js" "$@"
