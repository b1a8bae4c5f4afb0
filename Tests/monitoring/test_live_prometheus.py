"""The real thing: Sentinel and a real Prometheus on loopback, every query of the dashboard and the rules.

Sentinel (`.build/debug/registry-cli serve`) runs on a free loopback port with a temporary registry
holding the three example versions of "fraud", and a desired-versions file as in Kubernetes (the
ConfigMap rendered from Git), which does not exist yet. Prometheus runs on another free loopback
port with monitoring/prometheus/prometheus.yml as Debian's build can load it (Kubernetes pod
discovery replaced by a file of the labels pod discovery would produce: the Sentinel pod, and decoys
the relabelling must drop), scraping and evaluating the rules every second. The test sends a short,
bounded load: requests while no version is active (not ready, desired versions not applied), then
the file written with {"fraud": "v3"} (the server promotes v3 itself and turns ready), singles and
batches of fraud and legitimate rows from models/fraud-xgboost/golden.jsonl, bad requests, the file
changed to v2 mid-way, more load, and a slow trickle while queries run. Then every PromQL expression
of the dashboard (variables resolved to the label values Prometheus holds) and of the rules must
return data, except those that need Kubernetes, named in K8S_ONLY below, which must still parse and
evaluate.
"""

import json
import math
import os
import re
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import yaml

from monitoring_helpers import (
    PROMETHEUS_K8S,
    REGISTRY_CLI,
    REPO,
    free_port,
    http,
    kubernetes_config_on_file_sd,
    load_dashboard,
    rules_of,
    to_bool_comparisons,
    stop,
    tool,
    wait_for,
)

NAMESPACE, POD = "sentinel-test", "sentinel-0"

# The only expressions allowed to return no data here: they read cAdvisor or kube-state-metrics,
# which exist only in a cluster. Keyed by where they live in the dashboard or the rules.
K8S_ONLY = {
    "panel:CPU per pod/A",  # cAdvisor container_cpu_usage_seconds_total
    "panel:CPU per pod/C",  # kube-state-metrics kube_pod_container_resource_limits
    "panel:Memory per pod/A",  # cAdvisor container_memory_working_set_bytes
    "panel:Memory per pod/C",  # kube-state-metrics kube_pod_container_resource_limits
    "panel:HPA replicas/A",  # kube-state-metrics kube_horizontalpodautoscaler_*
    "panel:HPA replicas/B",
    "panel:HPA replicas/C",
    "panel:HPA replicas/D",
    "panel:HPA scaling events/A",
    "annotation:HPA scaling",
    "variable:hpa",
    "alert:SentinelHPAAtMaxReplicas",  # kube-state-metrics kube_horizontalpodautoscaler_*
}
K8S_METRIC = re.compile(r"\b(container_[a-z_]+|kube_[a-z_]+)\b")

# Grafana's own variables, as Grafana fills them for the last hour with a 15 s scrape interval
# (windows that also outlast a few scrapes missed on a busy machine).
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__interval_ms": "15000", "__range_s": "3600"}

DEADLINE_SECONDS = 30
@dataclass
class Live:
    sentinel: str
    prometheus: str
    golden: list
    predict_statuses: Counter = field(default_factory=Counter)
    rows_scored: int = 0
    decisions: Counter = field(default_factory=Counter)  # (version, decision)
    pending_before_promotion: set = field(default_factory=set)  # alert names
    ready_samples: list = field(default_factory=list)  # sentinel_ready's samples, (time, value), up to v3 serving
    desired_file_written_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)
    idle: threading.Event = field(default_factory=threading.Event)
    trickle: threading.Thread = None

    def query(self, expr):
        status, body = http("GET", f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        answer = json.loads(body)
        answer["http_status"] = status
        return answer

    def values(self, expr):
        answer = self.query(expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def predict(self, body: bytes, content_type="application/json"):
        status, answer = http("POST", f"{self.sentinel}/predict", body, content_type)
        payload = json.loads(answer) if answer else {}
        with self.lock:
            self.predict_statuses[status] += 1
            if status == 200:
                rows = payload.get("predictions") or [payload]
                self.rows_scored += len(rows)
                for row in rows:
                    self.decisions[(payload["version"], row["decision"])] += 1
        return status, payload

    def stop_traffic(self):
        self.stop.set()
        if self.trickle is not None:
            self.trickle.join(timeout=10)

    @contextmanager
    def quiet(self):
        """The trickle paused, with no request in flight, while the block runs."""
        self.idle.clear()
        self.pause.set()
        try:
            self.idle.wait(timeout=5)
            yield
        finally:
            self.pause.clear()


def features_body(row, request_id=None, model=None):
    body = {"features": row["features"]}
    if request_id:
        body["request_id"] = request_id
    if model:
        body["model"] = model
    return json.dumps(body).encode()


def send_load(live, phase, version, singles, batches):
    """Singles and batches of golden rows (checked against the version answering), and bad requests."""
    for index, row in enumerate(singles):
        status, answer = live.predict(features_body(row, f"{phase}-{index}"))
        assert status == 200, answer
        assert answer["version"] == version
        if version == "v3":  # the golden scores are v3's (XGBoost), threshold 0.06
            assert answer["decision"] == ("fraud" if row["score"] >= 0.06 else "legit")
    for batch in batches:
        status, answer = live.predict(json.dumps({"instances": [row["features"] for row in batch]}).encode())
        assert status == 200, answer
        assert len(answer["predictions"]) == len(batch)
    bad = [
        (b'{"features": {"amount": 1', "application/json", 400),
        (json.dumps({"features": {"no_such_feature": 1.0}}).encode(), "application/json", 422),
        (features_body(singles[0], model="no-such-model"), "application/json", 404),
        (features_body(singles[0]), "text/plain", 415),
    ]
    for body, content_type, expected in bad * 2:
        status, answer = live.predict(body, content_type)
        assert status == expected, answer
    for path, expected in [("/models", 200), ("/models/fraud", 200), ("/models/nope", 404), ("/healthz", 200), ("/nope", 404)]:
        assert http("GET", live.sentinel + path)[0] == expected, path


def serving(live, version):
    status, body = http("GET", f"{live.sentinel}/readyz")
    return status == 200 and json.loads(body)["serving"].get("fraud") == version


def pin(path, versions):
    """Writes the desired-versions file whole (a rename), as the kubelet swaps a ConfigMap's files."""
    staged = path.with_name(path.name + ".new")
    staged.write_text(json.dumps(versions))
    os.replace(staged, path)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    if not REGISTRY_CLI.is_file():
        pytest.fail(f"{REGISTRY_CLI} is missing: run swift build first")
    prometheus_binary = tool("prometheus")
    work = tmp_path_factory.mktemp("live")
    env = {key: value for key, value in os.environ.items() if key not in {"HOST", "PORT", "REGISTRY_DB"}}
    env.update(REGISTRY_DB=str(work / "registry.db"), LOG_LEVEL="info")

    def cli(*args):
        result = subprocess.run([str(REGISTRY_CLI), *args], capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
        assert result.returncode == 0, f"registry-cli {' '.join(args)}: {result.stderr}"

    cli("init")
    for example in ("fraud-logistic", "fraud-lightgbm", "fraud-xgboost"):
        directory = REPO / "models" / example
        meta = json.loads((directory / "meta.json").read_text())
        cli("register", "--model", "fraud", "--format", meta["format"], "--artifact", str(directory / meta["artifact"]),
            "--threshold", str(meta["threshold"]), "--metrics-file", str(directory / "metrics.json"),
            "--golden", str(directory / "golden.jsonl"), "--description", f"example {example}")

    golden = [json.loads(line) for line in (REPO / "models" / "fraud-xgboost" / "golden.jsonl").read_text().splitlines()]
    # As in Kubernetes, the versions to serve come from a desired-versions file, read every second.
    # It is written only once the not-ready phase has been observed; until then it is missing, as a
    # ConfigMap not synced yet would be, and the server reports its desired versions out of sync.
    desired = work / "desired" / "desired-versions.json"
    desired.parent.mkdir()
    processes = []
    live = None
    try:
        serve_log = work / "serve.log"
        processes.append(subprocess.Popen([str(REGISTRY_CLI), "serve", "--host", "127.0.0.1", "--port", "0",
                                           "--desired-versions-file", str(desired)], cwd=REPO,
                                          env=env, stdout=serve_log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        port = wait_for("registry-cli serve to listen",
                        lambda: (m := re.search(r"listening on http://127\.0\.0\.1:(\d+)", serve_log.read_text())) and m.group(1),
                        30, [serve_log])

        # Pod discovery's labels for the Sentinel pod, and for targets the relabelling must drop.
        pod = {
            "__meta_kubernetes_namespace": NAMESPACE,
            "__meta_kubernetes_pod_name": POD,
            "__meta_kubernetes_pod_label_app_kubernetes_io_name": "sentinel",
            "__meta_kubernetes_pod_label_app_kubernetes_io_instance": "test",
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
            "__meta_kubernetes_pod_container_name": "sentinel",
            "__meta_kubernetes_pod_container_port_name": "http",
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_node_name": "node-1",
        }
        nowhere = f"127.0.0.1:{free_port()}"
        decoys = [
            {**pod, "__meta_kubernetes_pod_container_port_name": "admin"},
            {key: value for key, value in pod.items() if "annotation" not in key},
            {**pod, "__meta_kubernetes_pod_label_app_kubernetes_io_name": "web", "__meta_kubernetes_pod_name": "web-0"},
            {**pod, "__meta_kubernetes_pod_phase": "Succeeded", "__meta_kubernetes_pod_name": "sentinel-old"},
        ]
        sd_file = work / "sentinel-pods.json"
        sd_file.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": pod}] +
                                      [{"targets": [nowhere], "labels": decoy} for decoy in decoys]))
        config = kubernetes_config_on_file_sd(yaml.safe_load(PROMETHEUS_K8S.read_text()), work, {"sentinel": sd_file})
        config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))

        prometheus_port = free_port()
        prometheus_log = work / "prometheus.log"
        processes.append(subprocess.Popen(
            [prometheus_binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}", "--storage.tsdb.retention.time=1h"],
            cwd=work, stdout=prometheus_log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        live = Live(sentinel=f"http://127.0.0.1:{port}", prometheus=f"http://127.0.0.1:{prometheus_port}", golden=golden)
        logs = [serve_log, prometheus_log]
        wait_for("Prometheus to be ready", lambda: http("GET", f"{live.prometheus}/-/ready")[0] == 200, 30, logs)
        wait_for("the first scrape of Sentinel", lambda: live.values(f'up{{job="sentinel", pod="{POD}"}} == 1'), 30, logs)

        # No version is active yet: /predict answers 503 (the series exists at 0 from start-up, and
        # the first scrape has seen it, so rate() counts all three), the pod is not ready and its
        # desired versions are not applied, and the alerts on those go pending.
        assert http("GET", f"{live.sentinel}/readyz")[0] == 503
        for index in range(3):
            status, answer = live.predict(features_body(golden[index]))
            assert status == 503 and answer["error"] == "no_active_version", answer
        expected_pending = {"SentinelNoModelLoaded", "SentinelPodNotReady", "SentinelDesiredVersionNotApplied"}

        def pending():
            names = {s["metric"]["alertname"] for s in live.values('ALERTS{alertstate="pending"}')}
            return names if expected_pending <= names else None

        live.pending_before_promotion = wait_for(f"{sorted(expected_pending)} to go pending", pending, 15, logs)

        fraud = [row for row in golden if row["score"] >= 0.06]
        legit = [row for row in golden if row["score"] < 0.06]
        assert len(fraud) >= 10 and len(legit) >= 100

        # Git pins v3: the server promotes it in its registry (actor gitops) and hot-reloads it.
        live.desired_file_written_at = time.time()
        pin(desired, {"fraud": "v3"})
        wait_for("v3 to serve", lambda: serving(live, "v3"), 15, logs)
        ready = f'sentinel_ready{{namespace="{NAMESPACE}", pod="{POD}"}}'
        wait_for("sentinel_ready 1 to be scraped", lambda: live.values(f"{ready} == 1"), 15, logs)
        (series,) = live.values(f"{ready}[5m]")
        live.ready_samples = [(float(at), float(value)) for at, value in series["values"]]
        send_load(live, "v3", "v3", fraud + legit[:45], [golden[i:i + 20] for i in (0, 20, 40)])

        # A mid-way promotion, through Git as well (a promotion made only in the registry would be
        # undone within a second: the file wins).
        pin(desired, {"fraud": "v2"})
        wait_for("v2 to serve", lambda: serving(live, "v2"), 15, logs)
        send_load(live, "v2", "v2", fraud + legit[45:90], [golden[i:i + 20] for i in (60, 80)])

        def trickle():
            rows = fraud[:3] + legit[90:102]
            for index in range(400):  # at most 100 s, and stopped at teardown long before
                if live.stop.wait(0.25):
                    return
                if live.pause.is_set():
                    live.idle.set()
                    continue
                status, _ = live.predict(features_body(rows[index % len(rows)], f"trickle-{index}"))
                if status != 200:
                    return

        live.trickle = threading.Thread(target=trickle, daemon=True)
        live.trickle.start()
        yield live
    finally:
        if live is not None:
            live.stop_traffic()
        for process in reversed(processes):
            stop(process)


def grafana_regex_escape(value):
    """A label value as Grafana puts a multi-value variable into a PromQL regex: its regex
    metacharacters escaped with a backslash that is itself escaped in the PromQL string."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", value)


def dashboard_expressions(live):
    """(name, expr) for every query of the dashboard, variables resolved as Grafana would."""
    dashboard = load_dashboard()
    resolved = dict(GRAFANA_BUILTINS)
    expressions = []

    def substitute(text):
        def one(match):
            name = match.group(1) or match.group(2)
            assert name in resolved, f"unknown variable ${name} in {text}"
            return resolved[name]
        result = re.sub(r"\$\{(\w+)\}|\$(\w+)", one, text)
        return result

    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "datasource":
            resolved[variable["name"]] = "prometheus"
            continue
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variable["query"])
        assert match, variable["query"]
        selector, label = substitute(match.group(1)), match.group(2)
        expressions.append((f"variable:{variable['name']}", selector))
        answer = json.loads(http("GET", f"{live.prometheus}/api/v1/label/{label}/values?" +
                                 urllib.parse.urlencode({"match[]": selector}))[1])
        assert answer["status"] == "success", answer
        values = answer["data"]
        if variable.get("regex"):
            values = [v for v in values if re.search(variable["regex"].strip("/"), v)]
        if f"variable:{variable['name']}" in K8S_ONLY and not values:
            resolved[variable["name"]] = ".+"
            continue
        assert values, f"variable {variable['name']} ({variable['query']}) resolves to nothing"
        if variable.get("multi") or variable.get("includeAll"):
            resolved[variable["name"]] = "(" + "|".join(grafana_regex_escape(v) for v in values) + ")"
        else:
            resolved[variable["name"]] = values[0]
    assert resolved["namespace"] == NAMESPACE and resolved["pod"] == f"({POD})" and resolved["model"] == "(fraud)"

    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expressions.append((f"panel:{panel['title']}/{target['refId']}", substitute(target["expr"])))
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            expressions.append((f"annotation:{annotation['name']}", substitute(annotation["expr"])))
    return expressions


def rule_expressions():
    """(name, expr) for every rule: records as written and as recorded, alerts with their comparisons
    turned into `bool` ones (so they return 0 or 1 instead of filtering) and as written."""
    expressions = []
    for rule in rules_of("record"):
        expressions.append((f"record:{rule['record']}", rule["expr"]))
        expressions.append((f"recorded:{rule['record']}", rule["record"]))
    for rule in rules_of("alert"):
        expressions.append((f"alert:{rule['alert']}", to_bool_comparisons(rule["expr"])))
        expressions.append((f"alert-as-written:{rule['alert']}", rule["expr"]))
    return expressions


def has_data(answer):
    result = answer["data"]["result"]
    if answer["data"]["resultType"] == "scalar":
        return True
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def evaluate_until_data(live, expressions):
    """Queries each expression until it returns a finite sample (or the deadline passes); returns
    {name: last answer}. Expressions that need Kubernetes, and alerts as written (which filter), are
    queried once."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    answers, pending = {}, dict(expressions)
    while True:
        for name, expr in list(pending.items()):
            answer = live.query(expr)
            answers[name] = answer
            if answer["status"] != "success" or name in K8S_ONLY or name.startswith("alert-as-written:") or has_data(answer):
                del pending[name]
        if not pending or time.monotonic() > deadline:
            return answers
        time.sleep(1)


def check(live, answers, expressions):
    exprs = dict(expressions)
    failures = []
    for name, answer in answers.items():
        if answer["status"] != "success":
            failures.append(f"{name}: {answer.get('error')} in {exprs[name]}")
        elif name in K8S_ONLY:
            if not K8S_METRIC.search(exprs[name]):
                failures.append(f"{name} is listed as needing Kubernetes but reads no cAdvisor or kube-state-metrics series")
        elif not name.startswith("alert-as-written:") and not has_data(answer):
            failures.append(f"{name}: no data from {exprs[name]}")
    if failures:
        targets = json.loads(http("GET", f"{live.prometheus}/api/v1/targets")[1])["data"]["activeTargets"]
        failures += [f"target {t['scrapeUrl']}: {t['health']} {t['lastError']}" for t in targets]
    assert not failures, "\n".join(failures)


def test_relabelling_keeps_only_the_sentinel_pod_with_its_labels(live):
    answer = json.loads(http("GET", f"{live.prometheus}/api/v1/targets")[1])["data"]
    active = [t for t in answer["activeTargets"] if t["labels"]["job"] == "sentinel"]
    assert [(t["labels"]["namespace"], t["labels"]["pod"], t["labels"]["container"], t["health"]) for t in active] == [
        (NAMESPACE, POD, "sentinel", "up")]
    assert active[0]["scrapeUrl"] == f"{live.sentinel}/metrics"
    dropped = [t for t in answer["droppedTargets"] if t["discoveredLabels"].get("job") == "sentinel"]
    assert len(dropped) == 4


def test_not_ready_alerts_went_pending_before_the_first_promotion(live):
    assert {"SentinelNoModelLoaded", "SentinelPodNotReady", "SentinelDesiredVersionNotApplied"} <= live.pending_before_promotion


def test_sentinel_ready_went_from_0_to_1_at_the_first_promotion(live):
    values = [value for _, value in live.ready_samples]
    assert values and set(values) <= {0.0, 1.0}, live.ready_samples
    flip = values.index(1.0) if 1.0 in values else len(values)
    assert flip > 0 and values[:flip] == [0.0] * flip and values[flip:] == [1.0] * (len(values) - flip), live.ready_samples
    # Every scrape before the desired-versions file was written saw the pod not ready.
    assert all(value == 0.0 for at, value in live.ready_samples if at < live.desired_file_written_at)


def test_every_dashboard_expression_returns_data(live):
    expressions = dashboard_expressions(live)
    names = [name for name, _ in expressions]
    assert len(names) == len(set(names)), "dashboard queries should be named uniquely"
    assert {name for name in K8S_ONLY if not name.startswith("alert:")} <= set(names), "K8S_ONLY names a query the dashboard does not have"
    check(live, evaluate_until_data(live, expressions), expressions)


def test_every_rule_expression_returns_data(live):
    expressions = rule_expressions()
    assert {name for name in K8S_ONLY if name.startswith("alert:")} <= {name for name, _ in expressions}
    check(live, evaluate_until_data(live, expressions), expressions)


def test_prometheus_evaluates_every_rule_without_error(live):
    def all_evaluated():
        groups = json.loads(http("GET", f"{live.prometheus}/api/v1/rules")[1])["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return rules if rules and all(rule["health"] != "unknown" for rule in rules) else None

    rules = wait_for("every rule to be evaluated", all_evaluated, DEADLINE_SECONDS)
    assert len(rules) == len(rules_of("record")) + len(rules_of("alert"))
    assert [(r["name"], r["lastError"]) for r in rules if r["health"] != "ok"] == []
    assert live.values('ALERTS{alertstate="firing"}') == [], "an alert fires on a healthy service"


def test_prometheus_counts_what_was_sent(live):
    with live.quiet():
        with live.lock:
            rows, statuses, decisions = live.rows_scored, dict(live.predict_statuses), dict(live.decisions)
        check_counts(live, rows, statuses, decisions)


def check_counts(live, rows, statuses, decisions):
    assert {decision for _, decision in decisions} == {"fraud", "legit"}
    assert {version for version, _ in decisions} == {"v3", "v2"}
    assert statuses.keys() == {200, 400, 404, 415, 422, 503}
    selector = f'namespace="{NAMESPACE}", pod="{POD}"'

    def scraped_totals():
        scored = live.values(f"sum(sentinel_predictions_total{{{selector}}})")
        return scored and float(scored[0]["value"][1]) == rows

    wait_for(f"Prometheus to scrape all {rows} scored rows", scraped_totals, 15)
    by_status = {int(s["metric"]["status"]): float(s["value"][1])
                 for s in live.values(f'sum by (status) (sentinel_http_requests_total{{{selector}, route="/predict"}})')}
    # Every status /predict answers exists from start-up, at 0 until it happens.
    assert by_status.keys() == {200, 400, 404, 413, 415, 422, 500, 503}
    assert {status: count for status, count in by_status.items() if count} == statuses
    by_decision = {}
    for sample in live.values(f"sum by (version, decision) (sentinel_predictions_total{{{selector}}})"):
        by_decision[(sample["metric"]["version"], sample["metric"]["decision"])] = float(sample["value"][1])
    # Both decisions of each loaded version exist, at 0 until the first row so decided.
    assert by_decision.keys() == {(version, decision) for version in ("v3", "v2") for decision in ("fraud", "legit")}
    assert {key: count for key, count in by_decision.items() if count} == decisions
    written = live.values(f"sentinel_audit_rows_written_total{{{selector}}}")
    assert float(written[0]["value"][1]) == rows  # sync audit: no answer without a committed record
    reloads = {s["metric"]["result"]: float(s["value"][1]) for s in live.values(f"sentinel_model_reloads_total{{{selector}}}")}
    assert reloads == {"success": 2.0, "failure": 0.0}
    gauges = {name: [(s["metric"].get("model"), float(s["value"][1])) for s in live.values(f"{name}{{{selector}}}")]
              for name in ("sentinel_model_reload_failing", "sentinel_ready", "sentinel_desired_versions_in_sync",
                           "sentinel_desired_versions_applied_total", "sentinel_audit_queue_capacity")}
    assert gauges == {
        "sentinel_model_reload_failing": [("fraud", 0.0)],
        "sentinel_ready": [(None, 1.0)],
        "sentinel_desired_versions_in_sync": [(None, 1.0)],
        "sentinel_desired_versions_applied_total": [("fraud", 2.0)],  # v3, then v2
        "sentinel_audit_queue_capacity": [(None, 20000.0)],
    }
    active = live.values(f"sentinel_model_active_info{{{selector}}} == 1")
    assert [s["metric"]["version"] for s in active] == ["v2"]
    ratio = live.values(f'sentinel:http_requests_errors:ratio_rate5m{{namespace="{NAMESPACE}"}}')
    assert 0 < float(ratio[0]["value"][1]) < 0.1  # the three 503s, with /readyz's 503s left out
