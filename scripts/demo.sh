#!/usr/bin/env bash
# The demo: build the sandbox world, start the gateway on the shipped config, run the headline task (a sales brief,
# offline, through the real gateway and MCP servers), make one real tool call through every pool that is on, show
# the pools, stop the gateway. The sandbox host stays up for exploring (`orchestra sandbox down` stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
orchestra=".venv/bin/orchestra"
port="${ORCHESTRA_DEMO_PORT:-8700}"
gateway="http://127.0.0.1:${port}"
log="$(mktemp -t orchestra-gateway.XXXXXX.log)"

echo "== the sandbox: a deterministic world of fictional companies, and the host of their websites"
"$orchestra" sandbox up

"$orchestra" gateway --config config/orchestra.yaml --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT

echo "== starting the gateway on $gateway (log: $log)"
for _ in $(seq 1 600); do
  if curl -fsS "$gateway/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; exit 1; fi
  sleep 0.2
done
curl -fsS "$gateway/readyz"; echo

# A company our CRM knows, and where its website is served.
read -r company domain site < <(.venv/bin/python - <<'PY'
import json
from orchestra.core.settings import load_settings
settings = load_settings()
world = json.loads((settings.data_dir / "sandbox" / "world.json").read_text())
company = next(c for c in world["companies"] if c["id"] == world["crm_company_ids"][0])
print(company["name"].replace(" ", "_"), company["domain"], settings.sandbox.base_url + "/sites/" + company["domain"] + "/")
PY
)
company="${company//_/ }"
echo
echo "== the headline task: orchestra run \"Research $company for our sales call tomorrow\""
started=$(date +%s%N)
"$orchestra" run "Research $company for our sales call tomorrow" --gateway "$gateway" --yes
echo "== headline task wall time: $(( ($(date +%s%N) - started) / 1000000 )) ms"

echo; echo "== a tour of the pools: one call through each"
call() { local pool="$1" tool="$2" args="$3"; echo; echo "== $pool: $tool $args"
  "$orchestra" tools call "$tool" "$args" --pool "$pool" --gateway "$gateway" --max-chars 700; }

call browser browser_navigate "{\"url\": \"${site}pricing/\"}"
call fetch fetch "{\"url\": \"${site}about/\", \"max_length\": 600}"
call crm hubspot-search-objects "{\"objectType\": \"companies\", \"query\": \"$domain\", \"properties\": [\"name\", \"lifecyclestage\", \"numberofemployees\"]}"
call enrichment enrich_organization "{\"domain\": \"$domain\"}"
call social get_company_social_profiles "{\"company\": \"$company\"}"
call warehouse execute_query '{"sql": "SELECT industry, market_size_usd, growth_pct FROM industry_stats WHERE year = 2026 ORDER BY market_size_usd DESC LIMIT 3"}'
call design list_figma_files '{}'
call deploy list_deployments '{}'
call models list_models '{"tier": "fast"}'
call everything echo '{"message": "hello from Orchestra"}'

echo; echo "== pools and replicas (/admin/pools)"
"$orchestra" status --gateway "$gateway"
echo "== a few metrics (/metrics)"
curl -fsS "$gateway/metrics" | grep -E '^mcp_request_duration_seconds_count' | head -n 12

sandbox_url="$(.venv/bin/python -c 'from orchestra.core.settings import load_settings; print(load_settings().sandbox.base_url)')"
cat <<TEXT

== next: chat with Orchestra through its API server
The sandbox host is still running at $sandbox_url (stop it with: $orchestra sandbox down).
Start the server (it starts its own gateway):   $orchestra serve
Then open http://127.0.0.1:8800/ for the web chat (docs/chat.md), or, from Python (langgraph-sdk), send a chat
message and a follow-up on the same thread:
  from langgraph_sdk import get_client
  client = get_client(url="http://127.0.0.1:8800")
  thread = await client.threads.create()
  await client.runs.wait(thread["thread_id"], "supervisor", input={"messages": [{"role": "user", "content": "Research $company for our sales call"}]})
  await client.runs.wait(thread["thread_id"], "supervisor", input={"messages": [{"role": "user", "content": "now compare them with their competitors"}]})
docs/server.md lists every route; docs/agents.md describes conversations, follow-ups and approvals.
TEXT
