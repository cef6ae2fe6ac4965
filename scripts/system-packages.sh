#!/usr/bin/env bash
# Installs the Debian packages Orchestra runs for real (Redis, Chromium; Prometheus and promtool for the monitoring
# tests; Caddy and amtool for the compose file's proxy and Alertmanager configs) when they are missing.
# As root it uses apt-get; otherwise it says what to install and fails.
set -euo pipefail

declare -A binary_of=([redis-server]=redis-server [chromium]=chromium [prometheus-alertmanager]=amtool)
missing=()
for package in "$@"; do
  command -v "${binary_of[$package]:-$package}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Orchestra needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
