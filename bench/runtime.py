#!/usr/bin/env python3
"""Single-thread scoring: Sentinel's Swift evaluators beside the libraries' own prediction.

Run with bench/runtime.sh (it builds the release binary and a Python venv with the pinned
libraries). For each model it makes 100,000 rows from the model's held-out golden rows (resampled
with jitter, missing values kept), scores them with `sentinel-bench runtime` and with the library on
one thread, checks the two agree, and prints latency, throughput, their ratios and memory.

Environment: BENCH_ROWS (rows per model, 100000), BENCH_SINGLE_CALLS (timed single-row calls for
the library, 3000; Sentinel times min(BENCH_ROWS, 50000)), BENCH_WORK (its files,
/tmp/sentinel-runtime-bench), BENCH_VENV (bench/runtime.sh's venv, .venv-bench).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".build" / "release" / "sentinel-bench"
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/sentinel-runtime-bench"))
ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
SINGLE_CALLS = int(os.environ.get("BENCH_SINGLE_CALLS", "3000"))

MODELS = [
    ("fraud-xgboost", "xgboost-json", "model.json"),
    ("fraud-lightgbm", "lightgbm-text", "model.txt"),
    ("fraud-xgboost-large", "xgboost-json", "model.json"),
]


# The largest score difference from the library that still counts as agreeing (the parity tests'
# tolerance).
AGREEMENT = 1e-6

def make_rows(folder: Path, seed: int = 7):
    golden = [json.loads(line) for line in (folder / "golden.jsonl").read_text().splitlines() if line.strip()]
    names = list(golden[0]["features"].keys())
    base = np.array([[np.nan if g["features"][n] is None else g["features"][n] for n in names] for g in golden])
    rng = np.random.default_rng(seed)
    picked = base[rng.integers(0, len(base), ROWS)]
    # Jitter continuous features so the rows are not 200 values repeated; keep integer-valued ones.
    integral = np.all(np.isnan(base) | (base == np.round(base)), axis=0)
    jitter = rng.uniform(0.9, 1.1, picked.shape)
    picked = np.where(integral[None, :], picked, np.round(picked * jitter, 4))
    return names, np.ascontiguousarray(picked, dtype=np.float64)


def library_scores(format_, artifact, names, X):
    if format_ == "xgboost-json":
        import xgboost as xgb
        booster = xgb.Booster(model_file=str(artifact))
        booster.set_param({"nthread": 1})
        single = lambda row: booster.inplace_predict(row)
        batch = lambda: booster.inplace_predict(X)
        version = "xgboost " + xgb.__version__ + " inplace_predict, nthread=1"
    else:
        import lightgbm as lgb
        booster = lgb.Booster(model_file=str(artifact))
        single = lambda row: booster.predict(row, num_threads=1)
        batch = lambda: booster.predict(X, num_threads=1)
        version = "lightgbm " + lgb.__version__ + " Booster.predict, num_threads=1"
    for i in range(50):
        single(X[i:i + 1])
    latencies = []
    for i in range(SINGLE_CALLS):
        row = X[i:i + 1]
        start = time.perf_counter_ns()
        single(row)
        latencies.append(time.perf_counter_ns() - start)
    latencies.sort()
    best = float("inf")
    scores = None
    for _ in range(3):
        start = time.perf_counter()
        scores = batch()
        best = min(best, time.perf_counter() - start)
    return {
        "version": version,
        "single_mean_ns": float(np.mean(latencies)),
        "single_p50_ns": latencies[len(latencies) // 2],
        "single_p99_ns": latencies[int(len(latencies) * 0.99)],
        "batch_rows_per_second": len(X) / best,
        "scores": np.asarray(scores, dtype=np.float64),
    }


def main():
    if not BENCH.exists():
        sys.exit(f"{BENCH} is missing: run bench/runtime.sh (it builds it)")
    WORK.mkdir(parents=True, exist_ok=True)
    # Sentinel's own count is sentinel-bench's (RuntimeBenchmark.swift): every row, at most 50,000.
    print(f"Single-thread scoring, {ROWS:,} rows per model; {SINGLE_CALLS:,} timed single-row calls for the library, "
          f"{min(ROWS, 50_000):,} for Sentinel. Machine: {os.cpu_count()} cores, {os.uname().machine}.")
    print()
    print("| model | trees | Sentinel single row (mean / p50 / p99) | library single row (mean / p50 / p99) | single-row ratio | "
          f"Sentinel batch rows/s | library batch rows/s | batch ratio | max abs diff ({ROWS:,} rows) | model tables | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    disagreements = []
    for name, format_, artifact_name in MODELS:
        folder = ROOT / "models" / name
        artifact = folder / artifact_name
        names, X = make_rows(folder)
        rows_path = WORK / f"{name}.rows.f64"
        X.tofile(rows_path)
        out = subprocess.run([str(BENCH), "runtime", str(artifact), format_, str(rows_path), str(len(names))],
                             check=True, capture_output=True, text=True)
        swift = json.loads(out.stdout.strip().splitlines()[-1])
        swift_scores = np.fromfile(swift["scores_file"], dtype=np.float64)
        lib = library_scores(format_, artifact, names, X)
        diff = float(np.max(np.abs(swift_scores - lib["scores"])))
        if not diff <= AGREEMENT:
            disagreements.append(f"{name}: Sentinel and the library differ by {diff:.1e} (more than {AGREEMENT:.0e})")
        us = lambda ns: f"{ns / 1000:.2f}"
        print(f"| {name} | {swift['trees']} | {us(swift['single_mean_ns'])} / {us(swift['single_p50_ns'])} / {us(swift['single_p99_ns'])} µs | "
              f"{us(lib['single_mean_ns'])} / {us(lib['single_p50_ns'])} / {us(lib['single_p99_ns'])} µs | "
              f"{lib['single_mean_ns'] / swift['single_mean_ns']:.0f}x faster | {swift['batch_rows_per_second']:,.0f} | "
              f"{lib['batch_rows_per_second']:,.0f} | {swift['batch_rows_per_second'] / lib['batch_rows_per_second']:.2f}x | "
              f"{diff:.1e} | {swift['model_table_bytes'] / 1e6:.2f} MB (RSS +{swift['rss_growth_bytes'] / 1e6:.1f} MB) | "
              f"{swift['load_seconds'] * 1000:.0f} ms |")
        notes.append(f"{name}: library = {lib['version']}")
    print()
    for note in notes:
        print("- " + note)
    print("- The library's single-row times are Python calls (the interpreter's own overhead included, as"
          " a Python service pays it); Sentinel's are in-process calls of its evaluator.")
    if disagreements:
        sys.exit("bench/runtime.py: " + "; ".join(disagreements))


if __name__ == "__main__":
    main()
