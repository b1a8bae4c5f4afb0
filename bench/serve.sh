#!/usr/bin/env bash
# Single-prediction throughput and latency of the real service with the audit log on, driven by
# wrk on loopback. Usage: bench/serve.sh [DURATION_SECONDS] [CONNECTIONS...]
# Every request goes to 127.0.0.1; each run is bounded by wrk's -d, and the script stops the
# service it started (by PID) when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
shift || true
connections=("$@")
[ ${#connections[@]} -gt 0 ] || connections=(16 32 64)
command -v wrk >/dev/null || { echo "bench/serve.sh needs wrk (apt-get install wrk)" >&2; exit 1; }

swift build -c release --product registry-cli >/dev/null
cli=$PWD/.build/release/registry-cli
work=$(mktemp -d /tmp/sentinel-serve-bench.XXXXXX)
export REGISTRY_DB=$work/registry.db
model=${MODEL:-fraud-xgboost}
"$cli" init >/dev/null
read -r format artifact threshold < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["format"], m["artifact"], m["threshold"])' "models/$model/meta.json")
"$cli" register --model fraud --format "$format" --artifact "models/$model/$artifact" --threshold "$threshold" --golden "models/$model/golden.jsonl" >/dev/null
"$cli" promote v1 --model fraud >/dev/null
# Request bodies: the golden rows' features, as written.
python3 - "models/$model/golden.jsonl" > "$work/bodies.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        print(json.dumps({"features": json.loads(line)["features"]}, separators=(",", ":")))
PY

"$cli" serve --port 0 ${SERVE_ARGS:-} > "$work/serve.out" 2> "$work/serve.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
port=$(grep -o '[0-9]*$' "$work/serve.out" | head -1)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print $2 / 1024}' "/proc/$server/status"; }
rows() { sqlite3 "$REGISTRY_DB" "SELECT count(*) FROM predictions"; }

echo "Sentinel /predict benchmark: model $model ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["description"])' "models/$model/meta.json" | cut -c1-60)...), audit ${SERVE_ARGS:-sync (default)}"
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') on the same machine; $duration s per run after a 3 s warm-up"
echo
echo "| connections | requests/s | p50 | p90 | p99 | p99.9 | max | non-2xx | socket errors | RSS after | audit rows vs 2xx counted by wrk (rows may exceed by the requests in flight when wrk stops, at most one per connection) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in "${connections[@]}"; do
    BODIES=$work/bodies.jsonl wrk -t2 -c"$c" -d3s -s bench/predict.lua "http://127.0.0.1:$port" >/dev/null
    before=$(rows)
    out=$(BODIES=$work/bodies.jsonl wrk -t2 -c"$c" -d"${duration}s" -s bench/predict.lua "http://127.0.0.1:$port")
    summary=$(echo "$out" | grep '^{"requests"')
    sleep 0.5
    after=$(rows)
    python3 - "$c" "$summary" "$(rss)" "$before" "$after" <<'PY'
import json, sys
c, s, rss, before, after = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ok = s["requests"] - s["status_errors"]
ms = lambda us: f"{us / 1000:.2f} ms"
socket = s["connect_errors"] + s["read_errors"] + s["write_errors"] + s["timeouts"]
print(f"| {c} | {s['requests'] / (s['duration_us'] / 1e6):,.0f} | {ms(s['p50_us'])} | {ms(s['p90_us'])} | {ms(s['p99_us'])} | "
      f"{ms(s['p999_us'])} | {ms(s['max_us'])} | {s['status_errors']} | {socket} | {rss:.1f} MB | "
      f"{after - before:,} vs {ok:,}: {'ok' if 0 <= after - before - ok <= int(c) else 'MISMATCH'} |")
PY
done
echo
echo "Audit log: $(rows) rows in $REGISTRY_DB ($(du -h "$REGISTRY_DB" | cut -f1)); commit sizes:"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^sentinel_audit_commit_rows_(sum|count)|^sentinel_audit_rows_(refused|failed)_total' | sed 's/^/    /'
