#!/usr/bin/env bash
# Builds the tests' base image (default mantle/busybox:test) when it is missing: a busybox root file
# system (one static busybox and a few applets linked to it) imported with `docker import`, no registry
# needed. The busybox is this machine's when it runs in a container (Debian's busybox-static does), else
# the one in the official busybox image (pulled). Safe when several processes run it at once: each builds
# under a tag of its own, and the image gets its name only if nobody gave it one meanwhile.
set -euo pipefail
image=${1:-mantle/busybox:test}
official=busybox:1.36.1-musl # statically linked
applets='sh cat echo ls sleep env kill true false wc head printf'

docker image inspect "$image" >/dev/null 2>&1 && exit 0

work=$(mktemp -d)
build="${image%%:*}:build-$$-$RANDOM"
cleanup() {
  rm -rf "$work"
  docker rmi "$build" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Imports a root fs around the busybox at $1 under the build tag; true if a container of it runs.
import_with() {
  rm -rf "$work/rootfs"
  mkdir -p "$work/rootfs/bin"
  cp "$1" "$work/rootfs/bin/busybox"
  chmod 755 "$work/rootfs/bin/busybox"
  for applet in $applets; do ln -s busybox "$work/rootfs/bin/$applet"; done
  tar -C "$work/rootfs" -c . | docker import -c 'ENV PATH=/bin' - "$build" >/dev/null
  [ "$(docker run --rm --network none "$build" sh -c 'echo ok' 2>/dev/null)" = ok ]
}

from_official() {
  docker image inspect "$official" >/dev/null 2>&1 || docker pull -q "$official" >/dev/null || return 1
  local container
  container=$(docker create "$official") || return 1
  docker cp "$container:/bin/busybox" "$work/busybox" >/dev/null
  local copied=$?
  docker rm "$container" >/dev/null
  return $copied
}

host=$(command -v busybox || true)
if ! { [ -n "$host" ] && import_with "$host"; }; then
  if ! from_official || ! import_with "$work/busybox"; then
    echo "Cannot build $image: no busybox here that runs in a container (a static one: apt-get install" \
      "busybox-static), and the official $official could not be pulled." >&2
    exit 1
  fi
fi
docker image inspect "$image" >/dev/null 2>&1 || docker tag "$build" "$image"
