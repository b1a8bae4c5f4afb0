"""loadtest/locustfile.py run by the real Locust against the real service (debug build) on loopback.

Each run is bounded (`-t`, a few seconds, four users) and ends by itself. The service starts with a
temporary registry holding the bundled examples, v3 (the XGBoost model of the golden file) active.
Checked: every request answered and every score equal to the library's, the CSV files, the audit
table holding a row for every prediction the service answered, a promotion during a run failing
nothing (answers of the new version counted, not compared), the same checks failing when the
scores are wrong (CHECK_SCORES=1 against a LightGBM version), and one summary for `--processes`.

Needs Locust from loadtest/requirements.txt: .ci/run puts it in .build/locust-venv; elsewhere set
$LOCUST to a locust executable.
"""
from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))
from monitoring_helpers import REGISTRY_CLI, REPO, http, service_env, start_service, stop, wait_for  # noqa: E402

LOCUST = Path(os.environ.get("LOCUST", REPO / ".build" / "locust-venv" / "bin" / "locust"))
SUMMARY = re.compile(
    r"Sentinel decisions: (?P<fraud>\d+) fraud, (?P<legit>\d+) legit \([^)]*\); (?P<compared>\d+) scores compared "
    r"with the golden file's \(versions: (?P<versions>[^)]*)\), (?P<other>\d+) from other versions not compared; "
    r"(?P<mismatches>\d+) mismatches")


@dataclass
class Service:
    url: str
    db: Path
    env: dict

    def cli(self, *args: str) -> str:
        result = subprocess.run([str(REGISTRY_CLI), *args], capture_output=True, text=True, env=self.env, timeout=60, cwd=REPO)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def serving(self) -> str | None:
        status, body = http("GET", self.url + "/readyz")
        return json.loads(body)["serving"].get("fraud") if status == 200 else None

    def predictions_answered(self) -> int:
        status, body = http("GET", self.url + "/metrics")
        assert status == 200
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in body.decode().splitlines()
                   if line.startswith("sentinel_prediction_score_count"))

    def audit_rows(self) -> int:
        with sqlite3.connect(self.db, timeout=10) as db:
            return db.execute("SELECT count(*) FROM predictions").fetchone()[0]


@pytest.fixture
def service(tmp_path):
    if not LOCUST.is_file():
        pytest.fail(f"{LOCUST} is missing: .ci/run installs it (python3 -m venv .build/locust-venv && "
                    ".build/locust-venv/bin/pip install -r loadtest/requirements.txt), or set $LOCUST")
    service = Service(url="", db=tmp_path / "registry.db", env=service_env(tmp_path / "registry.db", "locust-test"))
    service.cli("bootstrap", "--models", "models", "--model", "fraud")
    service.cli("promote", "v3", "--model", "fraud", "--reason", "the golden file's model")
    process, service.url, log = start_service(tmp_path, service.env)
    try:
        wait_for("v3 to serve", lambda: service.serving() == "v3", 20, (log,))
        yield service
    finally:
        stop(process, timeout=30)


# The locustfile's settings at their defaults unless a test sets one: a developer's exported
# BATCH_SIZE (bench/serve.sh reads one too) would change what these tests count.
LOCUSTFILE_SETTINGS = {"SENTINEL_GOLDEN_MODEL": "fraud-xgboost", "FRAUD_SHARE": "0.2", "BATCH_SIZE": "20",
                       "THINK_TIME": "0,0", "CHECK_SCORES": "auto"}


def locust(service: Service, out: Path, seconds: int, *extra: str, env: dict | None = None) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    settings = {name: value for name, value in os.environ.items() if name != "SENTINEL_MODEL"}
    # Its own process group, so that a run that overstays is ended with its worker processes.
    return subprocess.Popen(
        [str(LOCUST), "-f", "loadtest/locustfile.py", "--host", service.url, "--headless", "-u", "4", "-r", "4",
         "-t", f"{seconds}s", "--csv", str(out / "locust"), "--csv-full-history", "--json-file", str(out / "locust"),
         "--only-summary", *extra],
        cwd=REPO, env={**settings, **LOCUSTFILE_SETTINGS, **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finished(run: subprocess.Popen, seconds: int) -> tuple[int, str, dict]:
    """Locust's exit status, its output, and its summary line's numbers."""
    try:
        output, _ = run.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
        raise
    found = SUMMARY.findall(output)
    assert len(found) == 1, f"expected one summary line:\n{output[-3000:]}"
    numbers = SUMMARY.search(output).groupdict()
    return run.returncode, output, {k: (v if k == "versions" else int(v)) for k, v in numbers.items()}


def aggregated(out: Path) -> dict:
    with open(out / "locust_stats.csv", newline="") as stats:
        return next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")


def decisions_locust_counted(out: Path) -> int:
    """The transactions in the requests Locust's final statistics (locust.json, written at the end)
    count as answered without failure: one a single request, BATCH_SIZE (20) a batch."""
    entries = {entry["name"]: entry["num_requests"] - entry["num_failures"]
               for entry in json.loads((out / "locust.json").read_text())}
    return entries.get("/predict", 0) + 20 * entries.get("/predict (batch of 20)", 0)


def audit_settles(service: Service) -> int:
    """Waits until the audit table holds a row for every prediction the service counted (its count
    comes just after the commit, so a request Locust left in flight may be between the two)."""
    return wait_for("the audit rows to equal the service's count",
                    lambda: (rows := service.audit_rows()) == service.predictions_answered() and rows, 10)


def test_a_bounded_run_gets_every_answer_right_and_audited(service, tmp_path):
    out = tmp_path / "out"
    status, output, summary = finished(locust(service, out, 4), 4)
    assert status == 0, output[-3000:]
    assert summary["fraud"] > 0 and summary["legit"] > 0, summary
    assert summary["compared"] == summary["fraud"] + summary["legit"] and summary["other"] == 0, summary
    assert summary["mismatches"] == 0 and summary["versions"] == "v3", summary
    totals = aggregated(out)
    assert int(totals["Request Count"]) > 100 and int(totals["Failure Count"]) == 0, totals
    with open(out / "locust_failures.csv", newline="") as failures:
        assert len(list(csv.DictReader(failures))) == 0
    assert (out / "locust_stats_history.csv").stat().st_size > 0
    # The script's own count of decisions is the one in Locust's final statistics.
    assert decisions_locust_counted(out) == summary["compared"], summary
    # Locust stops with requests in flight: the service may answer (and record) a few it no longer
    # counts, so the audit table matches the service's own count, and holds at least Locust's.
    assert audit_settles(service) >= summary["compared"]


def test_a_promotion_during_the_run_fails_nothing_and_wrong_scores_fail(service, tmp_path):
    run = locust(service, tmp_path / "promoted", 6)
    # Promote once v3 has answered (Locust takes a second or more to start on a busy machine).
    wait_for("Locust's first predictions", lambda: service.predictions_answered() > 50, 20)
    service.cli("promote", "v2", "--model", "fraud", "--reason", "LightGBM during a Locust run")
    status, output, summary = finished(run, 6)
    assert status == 0, output[-3000:]
    assert summary["compared"] > 0 and summary["other"] > 0 and summary["mismatches"] == 0, summary

    # The same checks, told to expect the golden file's scores from v2 (another model), must fail.
    status, output, summary = finished(locust(service, tmp_path / "wrong", 2, env={"CHECK_SCORES": "1"}), 2)
    assert status != 0 and summary["mismatches"] > 0, summary
    assert int(aggregated(tmp_path / "wrong")["Failure Count"]) > 0


def test_processes_print_one_summary_of_every_worker(service, tmp_path):
    out = tmp_path / "processes"
    # 8 s, not 3: each worker process starts its own interpreter and connects to the master first,
    # and on a host busy with others' work a 3-s run once ended before they had sent a request.
    # The master listens on loopback only (Locust's default is every interface).
    status, output, summary = finished(locust(service, out, 8, "--processes", "2", "--master-bind-host", "127.0.0.1"), 8)
    assert status == 0, output[-3000:]
    # The master's line adds up its two workers': every decision compared, the golden version known,
    # and as many decisions as the requests in the master's own final statistics hold.
    assert summary["fraud"] + summary["legit"] > 100 and summary["compared"] == summary["fraud"] + summary["legit"], summary
    assert summary["versions"] == "v3" and summary["mismatches"] == 0, summary
    assert decisions_locust_counted(out) == summary["compared"], summary
