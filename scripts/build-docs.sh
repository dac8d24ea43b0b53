#!/usr/bin/env bash
# Builds docs/reference.html from openapi.yaml with Redocly (pinned in
# package.json): one self-contained HTML file, Redoc's scripts inlined, no CDN.
# The stub serves it at /docs/reference (include_str!), so the file is
# committed; after changing openapi.yaml run this script and commit the result.
#
#   scripts/build-docs.sh           regenerate docs/reference.html
#   scripts/build-docs.sh --check   fail if docs/reference.html is stale or
#                                   refers to any remote script or style (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if [[ ! -x node_modules/.bin/redocly ]]; then
  echo "installing pinned npm tools (npm ci)"
  npm ci --no-audit --no-fund
fi

target=docs/reference.html
out=$(mktemp --suffix=.html)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT

# --inlineBundle embeds Redoc itself; without it the page loads Redoc from a CDN.
if ! node_modules/.bin/redocly build-docs openapi.yaml --inlineBundle \
     --title "Job Status API reference" -o "$out" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi

# Self-contained: no <script src>, <link href>, @import or url() that leaves
# the page. (Plain links in the text, e.g. to example.com, are fine.)
remote=$(grep -oiE '<script[^>]+src=["'"'"']?(https?:)?//[^"'"'"' >]+|<link[^>]+href=["'"'"']?(https?:)?//[^"'"'"' >]+|@import[[:space:]]+(url\()?["'"'"']?(https?:)?//[^"'"'"' );]+|url\(["'"'"']?(https?:)?//[^"'"'"' )]+' "$out" || true)
if [[ -n "$remote" ]]; then
  echo "build-docs: the page loads remote resources:" >&2
  echo "$remote" >&2
  exit 1
fi

if $check; then
  if ! cmp -s "$out" "$target"; then
    echo "build-docs: $target is out of date with openapi.yaml: run scripts/build-docs.sh and commit it" >&2
    exit 1
  fi
  echo "build-docs: $target is up to date and self-contained ($(wc -c <"$target") bytes)"
else
  chmod 644 "$out"
  mv "$out" "$target"
  echo "build-docs: wrote $target ($(wc -c <"$target") bytes, self-contained)"
fi
