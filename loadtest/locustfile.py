"""Locust load test for Sentinel: card-fraud checks as a payment front end would send them.

Each simulated user posts real transactions, taken from the golden rows of a model in models/ (the
features the training library scored, with its score), in a fraud / legitimate mix chosen by the
rows' reference scores against the model's threshold; now and then a batch of transactions
(`{"instances": [...]}`), and now and then `GET /models`, as a dashboard would. Every answer is
checked: status 200, a score and decision for each transaction and, when the answer comes from a
version whose artifact is the golden file's model, the very score the library gave (to 1e-6) and the
decision it implies. A version promoted during the run is fine: its answers are counted, not compared.

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080 --headless --only-summary \
        -u 50 -r 10 -t 30s --csv out/locust --csv-full-history --json-file out/locust

Settings (environment variables; see loadtest/README.md):
    SENTINEL_GOLDEN_MODEL  folder under models/ whose golden rows are sent (default fraud-xgboost)
    SENTINEL_MODEL         "model" member to send (default: none, the one active model)
    FRAUD_SHARE            share of single transactions drawn from the fraud rows (default 0.2)
    BATCH_SIZE             transactions per batch request (default 20; Sentinel's limit is 1000)
    THINK_TIME             seconds a user waits between requests, "MIN,MAX" (default "0,0": none)
    CHECK_SCORES           "auto" (default: answers from versions whose artifact is the golden file's),
                           "1" (every answer), "0" (none)
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
from pathlib import Path

from locust import FastHttpUser, between, constant, events, task
from locust.runners import WorkerRunner

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_MODEL = os.environ.get("SENTINEL_GOLDEN_MODEL", "fraud-xgboost")
MODEL_NAME = os.environ.get("SENTINEL_MODEL") or None


def setting(name: str, default: str, read, valid, shape: str):
    """An environment setting read by `read` and accepted by `valid`; anything else stops Locust at
    start with one line naming the setting."""
    text = os.environ.get(name, default)
    try:
        value = read(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise SystemExit(f"{name} must be {shape}, not {text!r}")
    return value


FRAUD_SHARE = setting("FRAUD_SHARE", "0.2", float, lambda x: 0 <= x <= 1, "a share from 0 to 1")
BATCH_SIZE = setting("BATCH_SIZE", "20", int, lambda n: 1 <= n <= 1000, "a whole number from 1 to 1000 (Sentinel's limit)")
THINK_MIN, THINK_MAX = setting("THINK_TIME", "0,0", lambda t: tuple(float(x) for x in t.split(",")),
                               lambda t: len(t) == 2 and 0 <= t[0] <= t[1], "MIN,MAX in seconds with 0 <= MIN <= MAX (e.g. 0.1,0.5)")
CHECK_SCORES = setting("CHECK_SCORES", "auto", str, lambda c: c in ("auto", "1", "0"), "auto, 1 or 0")
TOLERANCE = 1e-6

folder = ROOT / "models" / GOLDEN_MODEL
meta = json.loads((folder / "meta.json").read_text())
THRESHOLD = float(meta["threshold"])
ARTIFACT_SHA256 = hashlib.sha256((folder / meta["artifact"]).read_bytes()).hexdigest()
GOLDEN = [json.loads(line) for line in (folder / "golden.jsonl").read_text().splitlines() if line.strip()]
# Fraud and legitimate transactions by the reference library's own score against the threshold.
FRAUD = [row for row in GOLDEN if row["score"] >= THRESHOLD]
LEGIT = [row for row in GOLDEN if row["score"] < THRESHOLD]
if not FRAUD or not LEGIT:
    raise SystemExit(f"models/{GOLDEN_MODEL}: the golden rows need scores on both sides of the threshold {THRESHOLD}")

# The versions whose artifact is the golden file's model (by sha256, from GET /models at each user's
# start): their answers must carry the library's exact scores. Others, such as a version promoted
# during the run, are counted and not compared.
golden_versions: set[str] = set()
# Per process; with --processes, each worker sends its counts to the master (report_to_master).
counts = {"fraud": 0, "legit": 0, "compared": 0, "other_version": 0, "score_mismatches": 0}
request_numbers = itertools.count(1)
RUN = f"{os.getpid():x}{random.getrandbits(24):06x}"  # request ids unique across runs and processes


def body(payload: dict) -> bytes:
    if MODEL_NAME:
        payload["model"] = MODEL_NAME
    return json.dumps(payload, separators=(",", ":")).encode()


def json_object(response) -> dict | None:
    """The answer's JSON object; None, with the request marked failed, when a 200 carries none
    (counted as a failure with its reason, not as an exception in the user's code)."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        response.failure(f"status {response.status_code} without a JSON object: {(response.text or '')[:200]!r}")
        return None
    return answer


class FraudCheck(FastHttpUser):
    """A payment front end asking for a decision on each card transaction."""

    wait_time = between(THINK_MIN, THINK_MAX) if THINK_MAX > 0 else constant(0)

    def on_start(self) -> None:
        if CHECK_SCORES != "auto":
            return
        with self.client.get("/models", name="/models", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"GET /models answered {response.status_code}")
                return
            answer = json_object(response)
            for model in (answer or {}).get("models", []):
                if MODEL_NAME and model.get("name") != MODEL_NAME:
                    continue
                for version in model.get("versions", []):
                    if version.get("artifact_sha256") == ARTIFACT_SHA256:
                        golden_versions.add(version.get("version"))

    def compares(self, answer: dict) -> bool:
        """Whether this answer must carry the golden scores."""
        if CHECK_SCORES != "auto":
            return CHECK_SCORES == "1"
        return answer.get("version") in golden_versions

    def check(self, response, answer: dict, rows: list[dict], predictions: list[dict]) -> None:
        if len(predictions) != len(rows):
            response.failure(f"{len(predictions)} predictions for {len(rows)} transactions")
            return
        exact = self.compares(answer)
        for row, prediction in zip(rows, predictions):
            score, decision = prediction.get("score"), prediction.get("decision")
            if not isinstance(score, (int, float)) or decision not in ("fraud", "legit"):
                response.failure(f"no score or decision in {prediction}")
                return
            counts[decision] += 1
            counts["compared" if exact else "other_version"] += 1
            if exact:
                expected = "fraud" if row["score"] >= THRESHOLD else "legit"
                if abs(score - row["score"]) > TOLERANCE or decision != expected:
                    counts["score_mismatches"] += 1
                    response.failure(f"{answer.get('version')}: score {score} ({decision}), "
                                     f"the library's is {row['score']} ({expected})")
                    return

    def post(self, name: str, payload: dict, rows: list[dict]) -> None:
        with self.client.post("/predict", data=body(payload), name=name, catch_response=True,
                              headers={"Content-Type": "application/json"}) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {(response.text or '')[:200]}")
                return
            answer = json_object(response)
            if answer is None:
                return
            predictions = answer.get("predictions") if "instances" in payload else [answer]
            if not isinstance(predictions, list) or not all(isinstance(p, dict) for p in predictions):
                response.failure(f"no predictions in {str(answer)[:200]}")
                return
            self.check(response, answer, rows, predictions)

    @task(40)
    def single(self) -> None:
        row = random.choice(FRAUD if random.random() < FRAUD_SHARE else LEGIT)
        self.post("/predict", {"features": row["features"], "request_id": f"locust-{RUN}-{next(request_numbers)}"}, [row])

    @task(2)
    def batch(self) -> None:
        rows = [random.choice(FRAUD if random.random() < FRAUD_SHARE else LEGIT) for _ in range(BATCH_SIZE)]
        self.post(f"/predict (batch of {BATCH_SIZE})", {"instances": [r["features"] for r in rows]}, rows)

    @task(1)
    def models(self) -> None:
        with self.client.get("/models", name="/models", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"GET /models answered {response.status_code}")
            elif (answer := json_object(response)) is not None and "models" not in answer:
                response.failure(f"GET /models answered without models: {str(answer)[:200]}")


@events.report_to_master.add_listener
def send_counts(client_id, data, **_kwargs) -> None:
    """A worker (--processes) hands its counts to the master with each stats report."""
    data["sentinel_counts"] = dict(counts)
    data["sentinel_golden_versions"] = sorted(golden_versions)
    for key in counts:
        counts[key] = 0


@events.worker_report.add_listener
def add_counts(client_id, data, **_kwargs) -> None:
    for key, value in data.get("sentinel_counts", {}).items():
        counts[key] += value
    golden_versions.update(data.get("sentinel_golden_versions", []))


@events.quitting.add_listener
def summary(environment, **_kwargs) -> None:
    # At quitting, after the workers' last reports: the master (or the one local process) prints the
    # sum; a worker's own counts have gone to the master.
    if isinstance(environment.runner, WorkerRunner):
        return
    total = counts["fraud"] + counts["legit"]
    share = f"{100 * counts['fraud'] / total:.1f}%" if total else "-"
    if CHECK_SCORES == "auto":
        versions = ", ".join(sorted(golden_versions)) or "none found"
    else:
        versions = f"CHECK_SCORES={CHECK_SCORES}"
    print(f"Sentinel decisions: {counts['fraud']} fraud, {counts['legit']} legit ({share} fraud); "
          f"{counts['compared']} scores compared with the golden file's (versions: {versions}), "
          f"{counts['other_version']} from other versions not compared; {counts['score_mismatches']} mismatches")
