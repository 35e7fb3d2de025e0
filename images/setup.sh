#!/bin/bash
# Example setup script: run by the image builder on a template server, as
#   /opt/nodepool-scripts/setup.sh HOSTNAME
# with NODEPOOL_PROVIDER, NODEPOOL_IMAGE, NODEPOOL_CLOUD, NODEPOOL_REGION and NODEPOOL_AZ set.
# Everything written here is in the snapshot, so every node booted from it has it.
set -euo pipefail

HOSTNAME_ARG=${1:?usage: setup.sh HOSTNAME}
CI_USER=${NODEPOOL_CI_USER:-jenkins}

echo "setup: baking ${NODEPOOL_IMAGE:-unknown} for ${NODEPOOL_PROVIDER:-unknown} on ${HOSTNAME_ARG}"

# The CI user: created when the system lets us (a real VM, as root); its home either way.
if ! id "$CI_USER" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1 && [ -w /etc/passwd ]; then
    useradd --create-home --shell /bin/bash "$CI_USER"
  else
    echo "setup: cannot create user $CI_USER here (read-only /etc); creating its home only" >&2
  fi
fi
mkdir -p "/home/$CI_USER/.ssh"
chmod 700 "/home/$CI_USER/.ssh"

# A cache the jobs use instead of fetching over the network.
mkdir -p /opt/cache
printf 'cached by %s at %s\n' "$HOSTNAME_ARG" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > /opt/cache/marker

# What the image is: read by check.sh and by operators on a node.
mkdir -p /opt/nodepool
cat > /opt/nodepool/image-info <<INFO
image=${NODEPOOL_IMAGE:-}
provider=${NODEPOOL_PROVIDER:-}
cloud=${NODEPOOL_CLOUD:-}
region=${NODEPOOL_REGION:-}
template=${HOSTNAME_ARG}
INFO

echo "setup: done"
