#!/bin/bash
# Example image check: run on a node booted from a freshly baked snapshot, before the snapshot
# becomes current. Exit 0 = good; anything else keeps the previous image, with stderr as reason.
set -euo pipefail

fail() {
  echo "check: $*" >&2
  exit 1
}

[ -f /opt/nodepool/image-info ] || fail "/opt/nodepool/image-info is missing: setup did not run"
[ -s /opt/cache/marker ] || fail "/opt/cache/marker is missing or empty"
grep -q '^image=.\+' /opt/nodepool/image-info || fail "image-info names no image"
echo "check: ok ($(grep '^image=' /opt/nodepool/image-info))"
