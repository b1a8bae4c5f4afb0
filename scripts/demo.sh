#!/usr/bin/env bash
# The main job on the embedded default: builds Sentinel (release), creates ./registry.db (or
# $REGISTRY_DB), registers the example models as versions of "fraud" (v1 logistic, v2 LightGBM,
# v3 XGBoost, each with its metrics, threshold and golden rows), promotes v3, starts the service on
# $PORT (default 8080), scores one transaction to show it answering, and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product registry-cli
cli=.build/release/registry-cli
export REGISTRY_DB=${REGISTRY_DB:-./registry.db}
port=${PORT:-8080}

# Creates the schema and registers the examples named in models/bundle.txt (a no-op on a second run).
"$cli" bootstrap --models models --model fraud
if ! "$cli" list --model fraud | grep -q production; then
    "$cli" promote v3 --model fraud --reason "demo: XGBoost has the best recall"
fi
"$cli" list

"$cli" serve --port "$port" &
server=$!
# On Ctrl-C, and on any failure below (set -e), the server stops with the script.
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
row=$(head -n 1 models/fraud-xgboost/golden.jsonl | python3 -c 'import json,sys; print(json.dumps({"features": json.load(sys.stdin)["features"], "request_id": "demo-1"}))')
echo "POST /predict ->"
curl -fsS -H 'content-type: application/json' -d "$row" "http://127.0.0.1:$port/predict"
echo
echo "Serving on http://127.0.0.1:$port (Ctrl-C stops it). Try: curl http://127.0.0.1:$port/models"
wait $server
