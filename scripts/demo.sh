#!/usr/bin/env bash
# The demo: start the gateway on the shipped config, call tools through it, show its pools, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
orchestra=".venv/bin/orchestra"
port="${ORCHESTRA_DEMO_PORT:-8700}"
gateway="http://127.0.0.1:${port}"
log="$(mktemp -t orchestra-gateway.XXXXXX.log)"

"$orchestra" gateway --config config/orchestra.yaml --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT

echo "== starting the gateway on $gateway (log: $log)"
for _ in $(seq 1 300); do
  if curl -fsS "$gateway/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; exit 1; fi
  sleep 0.2
done
curl -fsS "$gateway/readyz"; echo

echo "== tools of the 'everything' pool, as an MCP client sees them"
"$orchestra" tools list --pool everything --gateway "$gateway"

echo "== one call through the gateway (balanced over the pool's replicas)"
"$orchestra" tools call echo '{"message": "hello from Orchestra"}' --pool everything --gateway "$gateway"
"$orchestra" tools call get-sum '{"a": 40, "b": 2}' --pool everything --gateway "$gateway"

echo "== the same tool through the tier endpoint, namespaced by pool"
"$orchestra" tools call everything__echo '{"message": "via /tiers/ai/mcp"}' --tier ai --gateway "$gateway"

echo "== pools and replicas (/admin/pools)"
"$orchestra" status --gateway "$gateway"
echo "== a few metrics (/metrics)"
curl -fsS "$gateway/metrics" | grep -E '^mcp_(request_duration_seconds_count|server_health_status|cache_(hits|misses)_total)' | head -n 12
