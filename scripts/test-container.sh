#!/usr/bin/env bash
# Builds the container image from the Dockerfile and runs it for real with
# podman: it must start, answer, pass its own health check, run as a user
# other than root, keep its data in the /data volume and have the sandbox off.
#
# No registry can be pulled from here, so the two images the Dockerfile names
# are stood in for as docs/containers.md explains: the Debian base is made
# locally with debootstrap, and the Go build stage is replaced by the same
# build, with the same flags, run on this (Debian bookworm) machine.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in podman runc debootstrap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    {
      echo "########################################################################"
      echo "# Container check skipped: $tool is not installed"
      echo "# (apt-get install podman runc debootstrap; .ci/run installs them)."
      echo "########################################################################"
    } >&2
    [ "${CI:-}" = true ] && { echo "CI=true: the container check must run; failing." >&2; exit 1; }
    exit 0
  fi
done

work=$(mktemp -d)
name=handover-check-$$
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Podman's defaults do not fit a container-less CI machine: crun refuses
# hybrid cgroups and the default ulimits cannot be raised.
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$work/containers.conf"

base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
  echo "== container: making $base with debootstrap (once per machine)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" >/dev/null
  tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

echo "== container: build"
# The Dockerfile's build stage, with its flags, on this machine.
mkdir -p "$work/build/out"
CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o "$work/build/out/handover" .
podman build -q --format docker --pull=never --build-context build="$work/build" --target 1 -t handover:check . >/dev/null

echo "== container: run"
# Podman says on stderr that it cannot schedule health checks without
# systemd; this script runs them itself (podman healthcheck run).
podman run -d --name "$name" -p 127.0.0.1::8080 handover:check >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; exit 1; }
port=$(podman port "$name" 8080/tcp | head -n1 | sed 's/.*://')

fail() {
  echo "container check: $*" >&2
  podman logs "$name" >&2 || true
  exit 1
}

# The health check is the image's own (-healthcheck probes /readyz); wait
# for it to pass, as an orchestrator would.
ready=
for _ in $(seq 1 60); do
  if podman healthcheck run "$name" >/dev/null 2>&1; then ready=1; break; fi
  [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || fail "the container stopped"
  sleep 0.5
done
[ -n "$ready" ] || fail "the health check did not pass within 30 s"

uid=$(podman exec "$name" id -u)
[ "$uid" != 0 ] || fail "the process runs as root"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/login")
[ "$status" = 200 ] || fail "GET /login answered $status, want 200"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/sandbox/genesys/desk")
[ "$status" = 404 ] || fail "the sandbox answered $status: it must be off in the image"
volumes=$(podman image inspect -f '{{range $k, $v := .Config.Volumes}}{{$k}} {{end}}' handover:check)
[[ " $volumes " == *" /data "* ]] || fail "no /data volume (volumes: $volumes)"
podman exec "$name" test -s /data/handover.db || fail "the database is not in /data"
healthcheck=$(podman image inspect -f '{{.Config.Healthcheck.Test}}' handover:check)
[[ "$healthcheck" == *-healthcheck* ]] || fail "the image has no health check ($healthcheck)"

echo "container check: built, started, healthy, uid $uid, /login 200, sandbox off, data in /data"
