#!/usr/bin/env bash
# The serving benchmark: Sentinel (audit log on) beside the peer (the seed's FastAPI + uvicorn +
# pydantic + XGBoost design, bench/peer/) and the box's HTTP ceiling (nginx answering a constant),
# all driven by wrk on loopback with real transactions (bench/predict.lua). Then batches (rows/s at
# BATCH_SIZE rows per request) and a hot reload under load. Writes bench/RESULTS.md and
# bench/latency.png (bench/report.py). See bench/README.md.
#
#   bench/serve.sh [DURATION_SECONDS] [CONNECTIONS...]        e.g. bench/serve.sh 15 16 64 256
#
# Environment (arguments win): DURATION (15), CONNECTIONS ("16 64 256"), WARMUP (3 s per run),
# ROUNDS (1: how many times every server is measured at every concurrency, round after round),
# PHASES ("sentinel batch reload peer stack nginx"), BATCH_SIZE (100), BATCH_CONNECTIONS (16),
# RELOAD_CONNECTIONS (64), DRAIN_MS (500), PEER_WORKERS (2), PEER_PREDICT (dmatrix | inplace),
# NGINX_WORKERS (2), MAX_ATTEMPTS (3: runs of the peer or nginx in which a worker did under half its
# share of the work are measured again, up to this many in all), WRK_THREADS (1: see bench/README.md), WRK_TIMEOUT (10s), MODEL (fraud-xgboost), SERVE_ARGS (extra
# flags for registry-cli serve), ALLOCATOR (jemalloc, as the container image runs the service, or
# glibc; Sentinel and the bare stack alike), BENCH_VENV (.venv-bench), PYTHON (the interpreter for
# the peer's venv, >= 3.12), SKIP_BUILD=1 (use the binary as built),
# RESULTS (bench/RESULTS.md), PLOT (bench/latency.png), KEEP_WORK=1 (keep the temporary directory).
# The serve settings a shell may have exported (HOST, AUDIT_MODE, ...) are not passed on: SERVE_ARGS
# is the one way to change the service measured, and the report shows it.
#
# Every request goes to 127.0.0.1; every wrk run is bounded by -d; the script stops what it started,
# by PID, when it ends (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
command_line="bench/serve.sh $*"
# The source this run measures, taken before the build: a report written at the end would see edits
# made while it ran. With SKIP_BUILD the binary is whatever was built before, and the report says so.
source_commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then source_commit+=" + uncommitted changes"; fi

duration=${DURATION:-15}
if [ $# -gt 0 ]; then duration=$1; shift; fi
read -r -a connections <<<"${CONNECTIONS:-16 64 256}"
if [ $# -gt 0 ]; then connections=("$@"); fi
read -r -a phases <<<"${PHASES:-sentinel batch reload peer stack nginx}"
warmup=${WARMUP:-3}
rounds=${ROUNDS:-1}
round=1
batch_size=${BATCH_SIZE:-100}
batch_connections=${BATCH_CONNECTIONS:-16}
reload_connections=${RELOAD_CONNECTIONS:-64}
drain_ms=${DRAIN_MS:-500}
peer_workers=${PEER_WORKERS:-2}
peer_predict=${PEER_PREDICT:-dmatrix}
nginx_workers=${NGINX_WORKERS:-2}
max_attempts=${MAX_ATTEMPTS:-3}
wrk_threads=${WRK_THREADS:-1}
wrk_timeout=${WRK_TIMEOUT:-10s}
model=${MODEL:-fraud-xgboost}
serve_args=${SERVE_ARGS:-}
allocator=${ALLOCATOR:-jemalloc}
venv=${BENCH_VENV:-.venv-bench}
results_md=${RESULTS:-bench/RESULTS.md}
plot_png=${PLOT:-bench/latency.png}
cli=$root/.build/release/registry-cli

pids=()     # every process this script started and has not stopped yet
# The environment registry-cli serve reads besides REGISTRY_DB (set below), unset for it: an
# exported HOST=0.0.0.0 would have put the benchmark's service on every interface.
# The flags the service is always started with; SERVE_ARGS adds to them.
serve_fixed_args=(--host 127.0.0.1 --port 0)
serve_env_unset=(-u HOST -u PORT -u AUDIT_MODE -u AUDIT_DURABILITY -u AUDIT_RETENTION_DAYS -u DESIRED_VERSIONS_FILE
                 -u DRAIN_SECONDS -u IDLE_TIMEOUT_SECONDS -u LOG_LEVEL -u LOG_FORMAT)
work=""
py=python3

log() { printf '%s\n' "$*" >&2; }
die() { log "bench/serve.sh: $*"; exit 1; }

cleanup() {
    local pid _
    # A function run in the background (run_wrk in the reload run) is a subshell: its wrk is its
    # child, ended by its parent's PID.
    for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
    # At most 10 s for them to finish (the service drains its audit queue), then KILL.
    for _ in $(seq 1 100); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$work" ] && [ -z "${KEEP_WORK:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() { # PID: drop it from the list of processes to stop
    local kept=() pid
    for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    pids=("${kept[@]}")
}

stop() { # PID: stop one process this script started, and wait for it
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget_pid "$1"
}

has_phase() { local p; for p in "${phases[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

# ---------------------------------------------------------------------------------------- set-up

need_tools() {
    local missing=() tool
    for tool in wrk sqlite3 curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
    if has_phase nginx && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then missing+=(nginx-light); fi
    case $allocator in
        jemalloc) [ -n "$(jemalloc_library)" ] || missing+=(libjemalloc2) ;;
        glibc) ;;
        *) die "ALLOCATOR must be jemalloc or glibc, not '$allocator'" ;;
    esac
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]} from Debian"
        # A fresh machine (or container) has no package lists yet: without them nothing is found.
        apt-get update -qq >/dev/null || log "apt-get update failed: trying the package lists already here"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        die "needs ${missing[*]} (Debian: apt-get install wrk sqlite3 curl python3 nginx-light libjemalloc2)"
    fi
}

jemalloc_library() { # prints Debian's libjemalloc.so.2, if installed
    local library
    for library in /usr/lib/*-linux-gnu/libjemalloc.so.2; do [ -e "$library" ] && echo "$library" && return 0; done
    return 0
}

allocator_env() { # prints the environment that gives a process ALLOCATOR's malloc, for env(1)
    if [ "$allocator" = jemalloc ]; then echo "LD_PRELOAD=$(jemalloc_library)"; fi
}

nginx_bin() { command -v nginx || echo /usr/sbin/nginx; }

build() {
    if [ -n "${SKIP_BUILD:-}" ]; then
        [ -x "$cli" ] || die "SKIP_BUILD is set but $cli does not exist"
    else
        log "building the release binary"
        swift build -c release --product registry-cli >/dev/null
        if has_phase stack; then swift build -c release --product sentinel-bench >/dev/null; fi
    fi
}

python312() { # prints a Python >= 3.12 (xgboost-cpu 3.4.1 needs it)
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3 /root/.pyenv/versions/3.1[2-9]*/bin/python "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python; do
        [ -n "$candidate" ] || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

make_venv() {
    if [ ! -x "$venv/bin/uvicorn" ]; then
        local python
        python=$(python312) || die "the peer needs Python >= 3.12 (set PYTHON=...)"
        log "creating the bench venv $venv with $python"
        "$python" -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/peer/requirements.txt
    fi
}

meta() { # FIELD: a field of the model's meta.json
    "$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "models/$model/meta.json" "$1"
}

make_registry() {
    export REGISTRY_DB=$work/registry.db
    local format artifact threshold dir=models/$model
    format=$(meta format); artifact=$(meta artifact); threshold=$(meta threshold)
    "$cli" init >/dev/null
    local metrics=()
    if [ -f "$dir/metrics.json" ]; then metrics=(--metrics-file "$dir/metrics.json"); fi
    "$cli" register --model fraud --format "$format" --artifact "$dir/$artifact" --threshold "$threshold" \
        "${metrics[@]}" --golden "$dir/golden.jsonl" --description "bench: $model" >/dev/null
    # v2, promoted during the hot-reload run: the same model registered again (same cost to load and
    # self-test, so the run measures the reload itself).
    "$cli" register --model fraud --format "$format" --artifact "$dir/$artifact" --threshold "$threshold" \
        "${metrics[@]}" --golden "$dir/golden.jsonl" --description "bench: $model again, for the reload run" >/dev/null
    "$cli" promote v1 --model fraud --reason "bench" >/dev/null
}

make_bodies() { # single bodies (the golden rows' features) and batch bodies of BATCH_SIZE rows
    "$py" - "models/$model/golden.jsonl" "$work" "$batch_size" <<'PY'
import json, sys
golden, work, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(line)["features"] for line in open(golden) if line.strip()]
compact = dict(separators=(",", ":"))
with open(f"{work}/bodies.jsonl", "w") as out:
    for features in rows:
        out.write(json.dumps({"features": features}, **compact) + "\n")
with open(f"{work}/batches.jsonl", "w") as out:
    for start in range(0, len(rows), 10):
        batch = [rows[(start + i) % len(rows)] for i in range(size)]
        out.write(json.dumps({"instances": batch}, **compact) + "\n")
with open(f"{work}/probe.json", "w") as out:
    out.write(json.dumps({"features": rows[0], "request_id": "bench-reload-probe"}, **compact))
PY
}

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

local_get() { # URL: its body, straight from loopback (a proxy in the environment is not asked)
    curl --noproxy '*' -fsS "$1"
}

wait_http() { # URL: wait until it answers 2xx (at most 30 s)
    local _
    for _ in $(seq 1 300); do
        local_get "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$1 did not answer within 30 s"
}

# ----------------------------------------------------------------------------------- the servers

start_sentinel() { # sets sentinel_pid and base_url
    # env(1) execs the server, so $! is its own PID (not a subshell's, which stop() would end alone).
    # SERVE_ARGS is a list of flags; allocator_env prints one NAME=VALUE word, or nothing.
    # shellcheck disable=SC2086,SC2046
    env "${serve_env_unset[@]}" $(allocator_env) "$cli" serve "${serve_fixed_args[@]}" $serve_args >"$work/sentinel.out" 2>"$work/sentinel.log" &
    sentinel_pid=$!
    pids+=("$sentinel_pid")
    local _
    for _ in $(seq 1 300); do grep -q "listening on" "$work/sentinel.out" 2>/dev/null && break; sleep 0.1; done
    local port
    port=$(grep -o 'listening on .*' "$work/sentinel.out" | grep -o '[0-9]*$' | head -1 || true)
    [ -n "$port" ] || die "Sentinel did not start: $(tail -5 "$work/sentinel.log")"
    base_url=http://127.0.0.1:$port
    wait_http "$base_url/readyz"
}

start_peer() { # sets peer_pid and base_url
    local port
    port=$(free_port)
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PEER_PREDICT=$peer_predict \
        PEER_MODEL=$root/models/$model/$(meta artifact) PEER_THRESHOLD=$(meta threshold) \
        "$venv/bin/uvicorn" app:app --app-dir bench/peer --host 127.0.0.1 --port "$port" \
        --workers "$peer_workers" --log-level warning --no-access-log >"$work/peer.log" 2>&1 &
    peer_pid=$!
    pids+=("$peer_pid")
    base_url=http://127.0.0.1:$port
    wait_http "$base_url/healthz"
}

start_stack() { # sets stack_pid and base_url: Sentinel's HTTP stack alone (sentinel-bench http-ceiling)
    local port
    port=$(free_port)
    # shellcheck disable=SC2046 # as in start_sentinel
    env $(allocator_env) "$root/.build/release/sentinel-bench" http-ceiling "$port" >"$work/stack.out" 2>&1 &
    stack_pid=$!
    pids+=("$stack_pid")
    base_url=http://127.0.0.1:$port
    wait_http "$base_url/healthz"
}

start_nginx() { # sets nginx_pid and base_url: a constant answer shaped like Sentinel's
    local port dir=$work/nginx
    port=$(free_port)
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes $nginx_workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    default_type application/json;
    server {
        listen 127.0.0.1:$port;
        location = /healthz { return 200 '{"status":"ok"}'; }
        location / { return 200 '{"request_id":"00000000-0000-0000-0000-000000000000","model":"fraud","version":"v1","threshold":0.06,"score":0.013726780191063881,"decision":"legit","latency_us":9}'; }
    }
}
EOF
    "$(nginx_bin)" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
    nginx_pid=$!
    pids+=("$nginx_pid")
    base_url=http://127.0.0.1:$port
    wait_http "$base_url/healthz"
}

# ------------------------------------------------------------------------------- measurements

# The sampler runs beside the server it measures, so it starts no pgrep or subshell per sample (only
# the `sleep` between samples): it reads /proc with shell builtins (pgrep and $(...) every 0.2 s cost Sentinel 5-16 % of its requests/s
# in back-to-back pairs here, and 2 ms of p99).
tree_pids=()
list_process_tree() { # PID: sets tree_pids to PID and all its descendants (the peer's and nginx's workers)
    local pid file children queue=("$1")
    tree_pids=()
    while [ ${#queue[@]} -gt 0 ]; do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        tree_pids+=("$pid")
        for file in /proc/"$pid"/task/*/children; do
            [ -r "$file" ] || continue
            children=()
            read -r -a children <"$file" || true
            queue+=("${children[@]}")
        done
    done
}

rss_tree_total=0
measure_rss_tree() { # PID: sets rss_tree_total to the VmRSS in kB of the process and all its descendants
    local pid key value rest
    rss_tree_total=0
    list_process_tree "$1"
    for pid in "${tree_pids[@]}"; do
        [ -r "/proc/$pid/status" ] || continue
        while read -r key value rest; do
            if [ "$key" = "VmRSS:" ]; then rss_tree_total=$((rss_tree_total + value)); break; fi
        done <"/proc/$pid/status" || true
    done
}

process_ticks() { # PID: prints the CPU time (clock ticks, user + system, all its threads) of one process
    local stat
    # A process that has ended counts 0 (the error redirect first, so that the failed open is quiet).
    read -r stat 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
    # Fields 14 and 15 (utime, stime) counted after the ")" closing the command name.
    stat=${stat##*) }
    read -r -a stat <<<"$stat"
    echo $((stat[11] + stat[12]))
}

tree_ticks() { # PID: prints the CPU time (clock ticks) of the process and all its descendants
    local pid total=0
    list_process_tree "$1"
    for pid in "${tree_pids[@]}"; do total=$((total + $(process_ticks "$pid"))); done
    echo "$total"
}

rss_tree_kb() { # PID: prints the VmRSS in kB of the process and all its descendants
    measure_rss_tree "$1"
    echo "$rss_tree_total"
}

sample_rss() { # PID FILE: keep the highest RSS of the process tree in FILE, every 0.5 s, until killed
    local max=0
    while true; do
        measure_rss_tree "$1"
        if [ "$rss_tree_total" -gt "$max" ]; then max=$rss_tree_total; echo "$max" >"$2"; fi
        sleep 0.5
    done
}

stop_sampler() { # SAMPLER_PID PID: stop the sampler, then take one last sample into the same file
    stop "$1"
    local kb max
    kb=$(rss_tree_kb "$2")
    max=$(cat "$work/rss" 2>/dev/null || true)
    if [ "$kb" -gt "${max:-0}" ]; then echo "$kb" >"$work/rss"; fi
}

# The peer and nginx run two worker processes that share one listening socket. wrk opens all its
# connections at once, and now and then one worker accepts every one of them while the other idles:
# the peer at 16 connections answered about 1,700/s that way and 3,200/s with its connections
# spread, so such a run measures one core, not the server, and flatters the ratio. The workers' CPU
# time over the measured run shows it: when a worker did under half its even share, the run is
# repeated (up to MAX_ATTEMPTS in all).
worker_ticks() { # PID: prints the CPU time (clock ticks) of each child process of PID, one a line
    local file children child
    for file in /proc/"$1"/task/*/children; do
        [ -r "$file" ] || continue
        children=()
        read -r -a children <"$file" || true
        for child in "${children[@]}"; do
            echo "$child $(process_ticks "$child")"
        done
    done
}

worker_split() { # BEFORE AFTER N: each of the N busiest workers' share of their CPU time in %, busiest first ("61/39")
    awk 'FNR == NR { before[$1] = $2; next } { print $2 - before[$1] }' "$1" "$2" |
        sort -rn | head -n "$3" |
        awk -v n="$3" '{ t[NR] = $1; total += $1 } END {
            for (i = NR + 1; i <= n; i++) t[i] = 0
            for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? "/" : ""), (total > 0 ? 100 * t[i] / total + 0.5 : 0)
            print "" }'
}

lopsided() { # SPLIT: true when some worker did under half its even share of the work ("100/0", "80/20")
    local shares share
    IFS=/ read -r -a shares <<<"$1"
    for share in "${shares[@]}"; do [ $((share * ${#shares[@]} * 2)) -lt 100 ] && return 0; done
    return 1
}

audit_rows() { sqlite3 -cmd '.timeout 5000' "$REGISTRY_DB" 'SELECT count(*) FROM predictions'; }

server_ok() { # Sentinel's own count of 200 answers on /predict
    local_get "$base_url/metrics" |
        awk '/^sentinel_http_requests_total\{/ && /route="\/predict"/ && /status="200"/ { s += $NF } END { printf "%d\n", s }'
}

settle_audit() { # wait until the audit queue is empty (matters only with --audit-mode async)
    local _ depth
    for _ in $(seq 1 100); do
        depth=$(local_get "$base_url/metrics" | awk '/^sentinel_audit_queue_depth/ { d = $NF } END { print d + 0 }')
        [ "${depth:-0}" = 0 ] && return 0
        sleep 0.05
    done
}

run_wrk() { # SECONDS CONNECTIONS BODIES PATH OUT [TRACK_VERSION]: one drained wrk run, JSON line to OUT
    local seconds=$1 c=$2 threads=$wrk_threads
    if [ "$c" -lt "$threads" ]; then threads=$c; fi
    BODIES=$3 PREDICT_PATH=$4 DRAIN_AFTER_MS=$((seconds * 1000 - drain_ms)) TRACK_VERSION=${6:-} \
        wrk -t"$threads" -c"$c" -d"${seconds}s" --timeout "$wrk_timeout" -s bench/predict.lua "$base_url" >"$work/wrk.out" 2>&1 ||
        die "wrk failed: $(tail -3 "$work/wrk.out")"
    grep '^{"requests"' "$work/wrk.out" >"$5" || die "no summary from wrk: $(tail -3 "$work/wrk.out")"
}

# The servers idle between their rounds for minutes; one that died would answer nothing, and wrk
# reports that as a run of zero answers, not as an error.
still_running() { # PID TARGET
    kill -0 "$1" 2>/dev/null || die "$2 (PID $1) is no longer running (KEEP_WORK=1 keeps its log, in the temporary directory)"
}

measure() { # KIND TARGET PID CONNECTIONS BODIES PATH ROWS_PER_REQUEST: warm-up, measured run, one result line
    local kind=$1 target=$2 pid=$3 c=$4 bodies=$5 path=$6 per=$7 sampler rows_before ok_before audit="" workers="" attempt split n uneven ticks
    for attempt in $(seq 1 "$max_attempts"); do
        still_running "$pid" "$target"
        run_wrk "$warmup" "$c" "$bodies" "$path" "$work/warmup.json"
        if [ "$target" = sentinel ]; then settle_audit; rows_before=$(audit_rows); ok_before=$(server_ok); fi
        : >"$work/rss"
        worker_ticks "$pid" >"$work/ticks.before"
        sample_rss "$pid" "$work/rss" &
        sampler=$!
        pids+=("$sampler")
        ticks=$(tree_ticks "$pid")
        run_wrk "$duration" "$c" "$bodies" "$path" "$work/run.json"
        ticks=$(( $(tree_ticks "$pid") - ticks ))
        still_running "$pid" "$target"
        stop_sampler "$sampler" "$pid"
        case $target in peer) n=$peer_workers ;; nginx) n=$nginx_workers ;; *) break ;; esac
        worker_ticks "$pid" >"$work/ticks.after"
        split=$(worker_split "$work/ticks.before" "$work/ticks.after" "$n")
        uneven=false
        if [ "$n" -ge 2 ] && lopsided "$split"; then uneven=true; fi
        workers=",\"workers\":{\"cpu_split\":\"$split\",\"attempts\":$attempt,\"lopsided\":$uneven}"
        if [ "$uneven" = false ]; then break; fi
        if [ "$attempt" -lt "$max_attempts" ]; then
            log "  $kind $target c=$c: one worker took most of the connections (CPU split $split); measuring again"
        fi
    done
    if [ "$target" = sentinel ]; then
        settle_audit
        local rows ok answered
        rows=$(( $(audit_rows) - rows_before ))
        ok=$(( ($(server_ok) - ok_before) * per ))
        answered=$(( $(json_field "$work/run.json" predict_2xx) * per ))
        audit=",\"audit\":{\"rows\":$rows,\"expected\":$answered,\"server_2xx_rows\":$ok}"
    fi
    # cpu_ticks: the server's processes (every thread, every worker) over the measured run.
    printf '{"kind":"%s","target":"%s","connections":%d,"round":%d,"rss_kb":%d,"cpu_ticks":%d,"wrk":%s%s%s}\n' \
        "$kind" "$target" "$c" "$round" "$(cat "$work/rss")" "$ticks" "$(cat "$work/run.json")" "$audit" "$workers" >>"$work/results.jsonl"
    show_last
}

json_field() { "$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

show_last() { # one line per run on stderr, as the runs go
    tail -1 "$work/results.jsonl" | B_ROUNDS=$rounds "$py" bench/report.py --line >&2
}

reload_run() { # promote v2 a third of the way into a wrk run at RELOAD_CONNECTIONS
    local c=$reload_connections wrk_pid probe_pid sampler rows_before ok_before _
    run_wrk "$warmup" "$c" "$work/bodies.jsonl" /predict "$work/warmup.json"
    settle_audit; rows_before=$(audit_rows); ok_before=$(server_ok)
    # The probe first; wrk starts when the probe is running, and the probe promotes DURATION/3 later.
    rm -f "$work/probe.ready"
    "$py" bench/reload_probe.py --port "${base_url##*:}" --body "$work/probe.json" --new-version v2 \
        --delay "$("$py" -c "print($duration / 3)")" --timeout "$duration" --ready "$work/probe.ready" -- \
        "$cli" promote v2 --model fraud --reason "bench: hot reload under load" >"$work/probe.out" &
    probe_pid=$!
    pids+=("$probe_pid")
    for _ in $(seq 1 200); do [ -e "$work/probe.ready" ] && break; sleep 0.05; done
    [ -e "$work/probe.ready" ] || die "the reload probe did not start"
    : >"$work/rss"
    sample_rss "$sentinel_pid" "$work/rss" &
    sampler=$!
    pids+=("$sampler")
    run_wrk "$duration" "$c" "$work/bodies.jsonl" /predict "$work/run.json" v2 &
    wrk_pid=$!
    pids+=("$wrk_pid")
    wait "$wrk_pid" || die "wrk failed in the reload run"
    forget_pid "$wrk_pid"
    stop_sampler "$sampler" "$sentinel_pid"
    wait "$probe_pid" || die "the reload probe failed: $(cat "$work/probe.out")"
    forget_pid "$probe_pid"
    settle_audit
    local rows ok answered probe_ok
    probe_ok=$(json_field "$work/probe.out" ok)
    rows=$(( $(audit_rows) - rows_before ))
    ok=$(( $(server_ok) - ok_before ))
    answered=$(( $(json_field "$work/run.json" predict_2xx) + probe_ok ))
    printf '{"kind":"reload","target":"sentinel","connections":%d,"rss_kb":%d,"wrk":%s,"probe":%s,"audit":{"rows":%d,"expected":%d,"server_2xx_rows":%d}}\n' \
        "$c" "$(cat "$work/rss")" "$(cat "$work/run.json")" "$(cat "$work/probe.out")" \
        "$rows" "$answered" "$ok" >>"$work/results.jsonl"
    show_last
}

# ------------------------------------------------------------------------------------ the phases

# Every server runs from the start, and each concurrency is a block: Sentinel, the peer, the bare
# stack and nginx in turn, a minute or two apart. A shared host's speed drifts by a quarter and more
# within an hour (two runs of this script an hour apart here: the bare stack alike, Sentinel 15-30 %
# apart); measured phase after phase, ten minutes apart, a ratio took the drift in. The servers not
# being measured sit idle.
start_servers() { # sets sentinel_url, peer_url, stack_url and nginx_url for the phases chosen
    if has_phase sentinel || has_phase batch || has_phase reload; then
        start_sentinel
        sentinel_url=$base_url
        log "Sentinel on $sentinel_url, RSS idle $(( $(rss_tree_kb "$sentinel_pid") / 1024 )) MB"
    fi
    if has_phase peer; then
        make_venv
        start_peer
        peer_url=$base_url
        log "peer on $peer_url ($peer_workers uvicorn workers, $peer_predict)"
    fi
    if has_phase stack; then
        start_stack
        stack_url=$base_url
        log "bare stack on $stack_url (Sentinel's HTTP pipeline, constant answer once the body has been read)"
    fi
    if has_phase nginx; then
        start_nginx
        nginx_url=$base_url
        log "nginx on $nginx_url ($nginx_workers workers, constant answer)"
    fi
}

single_block() { # CONNECTIONS: every chosen server in turn, single predictions
    local c=$1
    if has_phase sentinel; then base_url=$sentinel_url; measure single sentinel "$sentinel_pid" "$c" "$work/bodies.jsonl" /predict 1; fi
    if has_phase peer; then base_url=$peer_url; measure single peer "$peer_pid" "$c" "$work/bodies.jsonl" /predict 1; fi
    if has_phase stack; then base_url=$stack_url; measure single stack "$stack_pid" "$c" "$work/bodies.jsonl" /predict 1; fi
    if has_phase nginx; then base_url=$nginx_url; measure single nginx "$nginx_pid" "$c" "$work/bodies.jsonl" /predict 1; fi
}

bench_all() {
    start_servers
    local c pid
    # A round is every block once; a second one measures every pair again, minutes later: one run's
    # ratio is one draw from a host whose speed drifts (see bench/README.md), and the report gives
    # each round's.
    for ((round = 1; round <= rounds; round++)); do
        for c in "${connections[@]}"; do single_block "$c"; done
    done
    round=1
    if has_phase batch; then
        base_url=$sentinel_url
        measure batch sentinel "$sentinel_pid" "$batch_connections" "$work/batches.jsonl" /predict "$batch_size"
        if has_phase peer; then
            base_url=$peer_url
            measure batch peer "$peer_pid" "$batch_connections" "$work/batches.jsonl" /predict/batch "$batch_size"
        fi
    fi
    # Last: it promotes v2.
    if has_phase reload; then base_url=$sentinel_url; reload_run; fi
    for pid in "${sentinel_pid:-}" "${peer_pid:-}" "${stack_pid:-}" "${nginx_pid:-}"; do
        if [ -n "$pid" ]; then stop "$pid"; fi
    done
}

write_settings() { # the run's settings, for bench/report.py
    local shown=""
    local allocator_shown=$allocator
    if [ "$allocator" = jemalloc ]; then allocator_shown+=" ($(jemalloc_library))"; fi
    local name
    for name in DURATION CONNECTIONS ROUNDS PHASES WARMUP DRAIN_MS BATCH_SIZE BATCH_CONNECTIONS RELOAD_CONNECTIONS \
        PEER_PREDICT PEER_WORKERS NGINX_WORKERS MAX_ATTEMPTS WRK_THREADS WRK_TIMEOUT SERVE_ARGS MODEL ALLOCATOR \
        SKIP_BUILD BENCH_VENV PYTHON; do
        if [ -n "${!name:-}" ]; then shown+="$name=\"${!name}\" "; fi
    done
    B_COMMAND="$shown$command_line" B_DURATION=$duration B_WARMUP=$warmup B_CONNECTIONS="${connections[*]}" B_ROUNDS=$rounds \
    B_BATCH_SIZE=$batch_size B_BATCH_CONNECTIONS=$batch_connections B_RELOAD_CONNECTIONS=$reload_connections \
    B_DRAIN_MS=$drain_ms B_PEER_WORKERS=$peer_workers B_PEER_PREDICT=$peer_predict B_NGINX_WORKERS=$nginx_workers B_MAX_ATTEMPTS=$max_attempts \
    B_WRK_THREADS=$wrk_threads B_WRK_TIMEOUT=$wrk_timeout B_MODEL=$model B_DESCRIPTION="$(meta description)" \
    B_THRESHOLD="$(meta threshold)" B_ROWS="$(wc -l <"$work/bodies.jsonl")" B_SERVE_ARGS="${serve_fixed_args[*]} $serve_args" \
    B_ALLOCATOR="$allocator_shown" B_CLK_TCK="$(getconf CLK_TCK)" B_SOURCE="$source_commit when the run began${SKIP_BUILD:+ (SKIP_BUILD: the binary as built before it)}" \
    "$py" - "$work/settings.json" <<'PY'
import json, os, sys
e = os.environ
serve_args = e["B_SERVE_ARGS"]
async_mode = "--audit-mode async" in serve_args or "--audit-mode=async" in serve_args
json.dump({
    "command": e["B_COMMAND"].strip(),
    "duration": int(e["B_DURATION"]), "warmup": int(e["B_WARMUP"]), "connections": e["B_CONNECTIONS"], "rounds": int(e["B_ROUNDS"]),
    "batch_size": int(e["B_BATCH_SIZE"]), "batch_connections": int(e["B_BATCH_CONNECTIONS"]),
    "reload_connections": int(e["B_RELOAD_CONNECTIONS"]), "drain_ms": int(e["B_DRAIN_MS"]),
    "peer_workers": int(e["B_PEER_WORKERS"]),
    "peer_predict": "Booster.inplace_predict" if e["B_PEER_PREDICT"] == "inplace" else "Booster.predict(DMatrix)",
    "nginx_workers": int(e["B_NGINX_WORKERS"]), "max_attempts": int(e["B_MAX_ATTEMPTS"]), "wrk_threads": int(e["B_WRK_THREADS"]), "wrk_timeout": e["B_WRK_TIMEOUT"],
    "model": e["B_MODEL"], "model_description": e["B_DESCRIPTION"], "threshold": float(e["B_THRESHOLD"]),
    "rows": int(e["B_ROWS"]), "serve_args": serve_args.strip(),
    "allocator": e["B_ALLOCATOR"], "source": e["B_SOURCE"], "clock_ticks_per_second": int(e["B_CLK_TCK"]),
    "audit_mode": "async: answers before the record commits" if async_mode else "sync, the default: no answer before its record commits",
}, open(sys.argv[1], "w"), indent=1)
PY
}

main() {
    local phase
    for phase in "${phases[@]}"; do
        case $phase in sentinel | batch | reload | peer | stack | nginx) ;; *) die "PHASES: no phase is called '$phase' (sentinel batch reload peer stack nginx)" ;; esac
    done
    [ "$duration" -gt $(( (drain_ms + 999) / 1000 )) ] || die "DURATION must be longer than the drain ($drain_ms ms)"
    [[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a whole number from 1 (got '$rounds')"
    # The warm-up is a drained run too: one no longer than the drain sends nothing.
    [ $((warmup * 1000)) -gt "$drain_ms" ] || die "WARMUP ($warmup s) must be longer than the drain (DRAIN_MS $drain_ms)"
    # As wrk reads -T (whole seconds, minutes or hours); a quiet connection longer than it would
    # be counted as a timeout.
    [[ "$wrk_timeout" =~ ^([0-9]{1,6})([smh]?)$ ]] || die "WRK_TIMEOUT must be a whole number of seconds, minutes or hours (10s, 1m), not '$wrk_timeout'"
    local unit_ms=1000
    case ${BASH_REMATCH[2]} in m) unit_ms=60000 ;; h) unit_ms=3600000 ;; esac
    # Base 10: a leading zero would read as octal.
    [ $((10#${BASH_REMATCH[1]} * unit_ms)) -gt "$drain_ms" ] || die "WRK_TIMEOUT ($wrk_timeout) must be longer than the drain (DRAIN_MS $drain_ms)"
    [ -f "models/$model/meta.json" ] || die "MODEL: no example models/$model (see models/README.md)"
    need_tools
    # The interpreter itself, not a wrapper such as a pyenv shim: it starts fast on a busy machine.
    py=$(python3 -c 'import sys; print(sys.executable)')
    if has_phase peer && [ "$(meta format)" != xgboost-json ]; then
        die "MODEL=$model is not an XGBoost model, which the peer (XGBoost's own predict) needs: leave the peer out (PHASES) or pick an XGBoost example"
    fi
    build
    work=$(mktemp -d /tmp/sentinel-bench.XXXXXX)
    make_registry
    make_bodies
    : >"$work/results.jsonl"
    log "Benchmark: $model, ${duration} s per run after ${warmup} s warm-up, connections ${connections[*]}, $rounds round(s), phases ${phases[*]}"
    bench_all
    write_settings
    local python=$py
    if [ -x "$venv/bin/python" ]; then python=$venv/bin/python; fi
    # Exits 1 when an audit check failed (after writing the report): the numbers are not evidence then.
    "$python" bench/report.py "$work" "$results_md" "$plot_png"
}

main
