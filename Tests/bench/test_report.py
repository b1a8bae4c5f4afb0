"""bench/report.py's judgement of the issue's targets, on runs shaped as bench/serve.sh records them.

The numbers below are made up to sit on either side of each bound; the full benchmark (minutes, two
cores to itself) is not a CI job. What is checked: Sentinel's capacity is its best rate among runs
with zero errors and a p99 within 10 ms, the peer's its best rate at any p99; each round stands
alone; and the per-concurrency targets are still reported beside it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_report", REPO / "bench" / "report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def run(target: str, connections: int, rate: float, p99_ms: float, *, n_round: int = 1, non2xx: int = 0,
        timeouts: int = 0) -> dict:
    """One wrk run as bench/serve.sh records it: `rate` answers a second over a 10-s window."""
    answered = int(rate * 10)
    return {
        "kind": "single", "target": target, "connections": connections, "round": n_round, "rss_kb": 50 * 1024,
        "audit": {"rows": answered - non2xx, "expected": answered - non2xx, "server_2xx_rows": answered - non2xx}
        if target == "sentinel" else None,
        "wrk": {"predict_2xx": answered - non2xx, "predict_non2xx": non2xx, "window_ms": 10_000.0,
                "p50_us": p99_ms * 250, "p90_us": p99_ms * 500, "p99_us": p99_ms * 1000, "max_us": p99_ms * 2000,
                "connect_errors": 0, "read_errors": 0, "write_errors": 0, "timeouts": timeouts},
    }


def test_capacity_takes_sentinels_best_rate_within_the_p99_bound_and_the_peers_best_at_any_p99():
    runs = [run("sentinel", 16, 25_000, 3.5), run("sentinel", 64, 34_000, 5.6), run("sentinel", 256, 40_000, 13.6),
            run("peer", 16, 3_200, 10.1), run("peer", 64, 3_300, 36.0), run("peer", 256, 3_250, 140.0)]
    cap = report.capacity(runs, 1)
    # 256 connections is Sentinel's fastest run, but over the bound; the peer's best is its own 64.
    assert (cap["sentinel"]["connections"], cap["peer"]["connections"]) == (64, 64)
    assert cap["ratio"] == 34_000 / 3_300
    assert cap["p99_lower"]
    text = report.targets(runs, [], 1)
    assert "- 16 connections:" in text and "≥ 10x peer **missed**" in text
    assert "- capacity (Sentinel's best within p99 ≤ 10 ms, 64 connections, against the peer's best, 64): ≥ 10x peer met (10.3x)" in text


def test_a_run_with_errors_is_no_capacity_and_a_higher_p99_is_reported_missed():
    runs = [run("sentinel", 16, 25_000, 3.5), run("sentinel", 64, 34_000, 5.6, non2xx=3),
            run("sentinel", 128, 36_000, 6.0, timeouts=1), run("peer", 16, 3_000, 2.0)]
    cap = report.capacity(runs, 1)
    assert cap["sentinel"]["connections"] == 16
    assert not cap["p99_lower"]
    text = report.targets(runs, [], 1)
    assert "against the peer's best, 16): ≥ 10x peer **missed** (8.3x), p99 below peer's **missed**" in text


def test_each_round_has_its_own_capacity_and_none_without_a_qualifying_run():
    runs = [run("sentinel", 64, 34_000, 5.6, n_round=1), run("peer", 64, 3_300, 36.0, n_round=1),
            run("sentinel", 64, 30_000, 11.0, n_round=2), run("peer", 64, 3_000, 36.0, n_round=2)]
    assert report.capacity(runs, 1)["ratio"] == 34_000 / 3_300
    assert report.capacity(runs, 2) is None
    text = report.targets(runs, [], 2)
    assert "- capacity, round 1" in text and "capacity, round 2" not in text
    table = report.capacity_table(runs, 2)
    assert "| 1 | 34,000 at 64 | 5.60 | 3,300 at 64 | 36.00 | 10.3x |" in table
    assert "| 2 |" not in table
