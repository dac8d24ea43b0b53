#!/usr/bin/env bash
# Judges openapi.yaml with tools we did not write, and fails on any error or
# warning:
#   1. redocly lint (recommended ruleset, .redocly.yaml)
#   2. spectral lint (spectral:oas, .spectral.yaml)
#   3. openapi-typescript generates ts-check/api.d.ts from the spec, and
#      tsc --noEmit (strict) type-checks ts-check/useJobStatus.ts against it.
# The npm tools are pinned in package.json / package-lock.json; `npm ci`
# installs them when node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# No telemetry or update checks: CI has no network but the package registries.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

if [[ ! -x node_modules/.bin/redocly ]]; then
  echo "installing pinned npm tools (npm ci)"
  npm ci --no-audit --no-fund
fi
bin=node_modules/.bin
spec=openapi.yaml

echo "redocly $("$bin/redocly" --version 2>/dev/null | tail -n 1): lint $spec"
# Redocly exits 0 on warnings, so read its JSON totals instead.
report=$(mktemp)
stderr=$(mktemp)
trap 'rm -f "$report" "$stderr"' EXIT
"$bin/redocly" lint --config .redocly.yaml --format=json "$spec" >"$report" 2>"$stderr" || true
# stderr carries Redocly's banners; show it only when there is no report.
[[ -s "$report" ]] || { cat "$stderr" >&2; exit 1; }
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const p of r.problems) {
    const at = (p.location || []).map(l => l.pointer).join(", ");
    console.log(`  ${p.severity} ${p.ruleId}: ${p.message} (${at})`);
  }
  const t = r.totals;
  console.log(`  redocly: ${t.errors} errors, ${t.warnings} warnings`);
  process.exit(t.errors + t.warnings === 0 ? 0 : 1);
' "$report"

echo "spectral $("$bin/spectral" --version): lint $spec"
"$bin/spectral" lint --ruleset .spectral.yaml --fail-severity=warn "$spec"

echo "openapi-typescript: $spec -> ts-check/api.d.ts"
"$bin/openapi-typescript" "$spec" -o ts-check/api.d.ts

echo "tsc $("$bin/tsc" --version): type-check ts-check/ (strict)"
"$bin/tsc" -p ts-check/tsconfig.json

echo "lint-spec: redocly, spectral, openapi-typescript and tsc passed with no warnings"
