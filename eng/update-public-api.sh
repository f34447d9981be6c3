#!/usr/bin/env bash
# Regenerates each library's PublicAPI.Unshipped.txt from the code as it is (the public API
# baseline: docs/design.md, "Contributing"). Run it after adding, changing or removing public API,
# and after merging branches that did; then review `git diff -- '*PublicAPI*.txt'`.
#
# How: the Unshipped list is emptied, the PublicApiAnalyzers code fix for RS0016 ("symbol is not
# part of the declared public API") is applied through `dotnet format analyzers`, which writes
# every public symbol not in PublicAPI.Shipped.txt into the Unshipped list, and the list is sorted
# (ordinal) so the result depends on the code only. Removed symbols vanish with the emptying.
# PublicAPI.Shipped.txt is never touched: it changes only at a release (move the Unshipped lines
# there), and removing a shipped symbol is a breaking change the build reports (RS0017) until a
# "*REMOVED*" line for it is added to the Unshipped list by hand.
#
# Usage: eng/update-public-api.sh [project.csproj ...]   (default: both libraries under src/)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

projects=("$@")
if [ ${#projects[@]} -eq 0 ]; then
  projects=(src/Aio/Aio.csproj src/Aio.Extensions.Hosting/Aio.Extensions.Hosting.csproj)
fi

for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  unshipped="$dir/PublicAPI.Unshipped.txt"
  # Keep the REMOVED lines (deliberate removals of shipped API); everything else is regenerated.
  removed=$(grep '^\*REMOVED\*' "$unshipped" 2>/dev/null || true)
  { echo '#nullable enable'; [ -n "$removed" ] && echo "$removed"; } >"$unshipped"
  # Restores and builds the project (and what it references) to find the symbols.
  dotnet format analyzers "$project" --diagnostics RS0016 --severity info -v quiet
  # Ordinal sort, "#nullable enable" first: the same code always gives the same file.
  { echo '#nullable enable'; grep -v '^#nullable enable$' "$unshipped" | grep -v '^$' | LC_ALL=C sort -u; } >"$unshipped.tmp"
  mv "$unshipped.tmp" "$unshipped"
  echo "$unshipped: $(($(wc -l <"$unshipped") - 1)) symbols"
done
