#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and prints the URL to put
# in HANDOVER_TEST_POSTGRES_URL:
#
#   export HANDOVER_TEST_POSTGRES_URL=$(./scripts/test-postgres.sh)
#   ./scripts/test.sh
#
# It needs Debian's postgresql package (.ci/run installs it) and leaves the
# packaged cluster alone: it runs its own cluster in a directory of its own,
# on 127.0.0.1:${HANDOVER_TEST_POSTGRES_PORT:-55432}, with trust
# authentication on loopback only and fsync off (test data only). A second
# call finds the server running and prints the same URL; `stop` stops it.
set -euo pipefail

port=${HANDOVER_TEST_POSTGRES_PORT:-55432}
user=$(id -un)
if [ "$(id -u)" = 0 ]; then
  user=postgres # initdb refuses to run as root
fi
dir=${HANDOVER_TEST_POSTGRES_DIR:-${TMPDIR:-/tmp}/handover-test-postgres-$user-$port}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "test-postgres: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; apt-get install postgresql" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -un)" = "$user" ]; then
    "$@"
  else
    runuser -u "$user" -- "$@"
  fi
}

if [ "${1:-}" = stop ]; then
  if [ -f "$dir/PG_VERSION" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir" -m fast stop >&2 || true
  fi
  exit 0
fi

if ! as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  if [ ! -f "$dir/PG_VERSION" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ "$(id -un)" = "$user" ] || chown "$user" "$dir"
    echo "test-postgres: initdb $dir ($bindir)" >&2
    as_owner "$bindir/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  rm -f "$dir/postmaster.pid" # left behind by a crash; pg_ctl status said nothing runs
  echo "test-postgres: starting on 127.0.0.1:$port" >&2
  as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >&2 || {
    echo "test-postgres: the server did not start; its log:" >&2
    tail -n 30 "$dir/server.log" >&2 || true
    exit 1
  }
fi

psql=("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'handover'")" != 1 ]; then
  "${psql[@]}" -c "CREATE ROLE handover LOGIN CREATEDB PASSWORD 'handover'" >&2
fi
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'handover_test'")" != 1 ]; then
  "${psql[@]}" -c "CREATE DATABASE handover_test OWNER handover" >&2
fi
echo "postgres://handover:handover@127.0.0.1:$port/handover_test?sslmode=disable"
