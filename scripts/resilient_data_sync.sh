#!/usr/bin/env bash
# Thin wrapper kept for the commands documented for the old Bash script: it runs resilient-sync
# with the same arguments. Builds the TypeScript sources first if this checkout was never built.
set -euo pipefail
# Run through a link (~/bin/rds -> …/scripts/resilient_data_sync.sh), the checkout is where the
# link leads, not where it sits: links are followed one at a time (readlink -f is not everywhere).
# A relative link is read from the folder the link really is in (cd -P), not from its spelling.
script="${BASH_SOURCE[0]}"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  [[ -L "$script" ]] || break
  target="$(readlink "$script")"
  [[ "$target" == /* ]] || target="$(cd -P "$(dirname "$script")" && pwd -P)/$target"
  script="$target"
done
if [[ -L "$script" ]]; then
  echo "resilient_data_sync.sh: more than 10 links lead to $script" >&2
  exit 64
fi
root="$(cd -P "$(dirname "$script")/.." && pwd -P)"
if [[ ! -f "$root/dist/cli/main.js" ]]; then
  (cd "$root" && npm run build --silent >&2)
fi
exec node "$root/dist/cli/main.js" "$@"
