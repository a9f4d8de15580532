#!/usr/bin/env bash
# Runs every check and test of Handover. This is the README's test command and
# what CI runs (.ci/run installs the system packages first).
set -euo pipefail
cd "$(dirname "$0")/.."

# The store and relay suites run on PostgreSQL too when HANDOVER_TEST_POSTGRES_URL
# names a database whose role may CREATE DATABASE; CI must run them.
postgres_skipped() {
  {
    echo "########################################################################"
    echo "# Postgres tests skipped: set HANDOVER_TEST_POSTGRES_URL to a database"
    echo "# whose role may CREATE DATABASE, for example:"
    echo "#   export HANDOVER_TEST_POSTGRES_URL=\$(./scripts/test-postgres.sh)"
    echo "########################################################################"
  } >&2
}
if [ -z "${HANDOVER_TEST_POSTGRES_URL:-}" ]; then
  postgres_skipped
  if [ "${CI:-}" = true ]; then
    echo "CI=true: the Postgres tests must run; failing." >&2
    exit 1
  fi
fi

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  {
    echo "########################################################################"
    echo "# Browser tests skipped: Chromium is not installed (apt-get install chromium)."
    echo "# .ci/run installs it; under CI=true the browser test fails without it."
    echo "########################################################################"
  } >&2
fi

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

echo "== go test (every package but e2e)"
go test -race -count=1 "$@" $(go list ./... | grep -v '/e2e$')

echo "== go test ./e2e (alone)"
# The end-to-end, crash and load suites take minutes under -race on a small
# machine: more than go test's default 10-minute limit allows. They run
# after the others, not beside them: their failover bounds (messages moved
# on within 3 s of a stop, 15 s of a kill; docs/scaling.md) are the
# product's timings, and another package's suite sharing two cores starved
# the PostgreSQL server they use (queries of 2-3 s in a failing run).
go test -race -count=1 -timeout=20m "$@" ./e2e

echo "== container (docs/containers.md)"
./scripts/test-container.sh

# The webhook's body parser and signature verifier get random input for a
# bounded number of runs: in CI, or locally with HANDOVER_FUZZ=1 (the default
# run stays quick). A count, not a time: Go 1.26's fuzz coordinator can fail
# a target with "context deadline exceeded" as a -fuzztime duration ends,
# with no failing input (golang/go#75804, fixed in Go 1.27); a count has no
# deadline. 150,000 runs take about 15 s here.
if [ "${CI:-}" = true ] || [ "${HANDOVER_FUZZ:-}" = 1 ]; then
  for target in FuzzParseWebhook FuzzVerifySignature; do
    echo "== go test -fuzz=$target (150,000 runs)"
    go test -run='^$' -fuzz="^$target\$" -fuzztime=150000x ./genesys/
  done
else
  echo "== fuzzing skipped (FuzzParseWebhook, FuzzVerifySignature): set HANDOVER_FUZZ=1 to run each 150,000 times; CI=true runs them"
fi
[ -n "${HANDOVER_TEST_POSTGRES_URL:-}" ] || postgres_skipped
