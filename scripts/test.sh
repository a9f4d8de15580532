#!/usr/bin/env bash
# Runs every check and test of Handover. This is the README's test command and
# what CI runs (.ci/run installs the system packages first).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== templ generate (generated files must be up to date)"
before=$(find . -name '*_templ.go' -not -path './.git/*' -exec sha256sum {} + | sort)
go tool templ generate >/dev/null 2>&1
after=$(find . -name '*_templ.go' -not -path './.git/*' -exec sha256sum {} + | sort)
if [ "$before" != "$after" ]; then
  echo "The _templ.go files were out of date; they are regenerated now: commit them." >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '_templ.go$'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test"
go test -race -count=1 "$@" ./...
