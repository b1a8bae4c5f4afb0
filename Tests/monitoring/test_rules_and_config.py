"""promtool on the Prometheus configurations and rules, the rules' unit tests, and their coverage."""

import re
import shutil
import subprocess

import yaml

from monitoring_helpers import (
    HELM_RULES,
    PROMETHEUS_K8S,
    PROMETHEUS_LOCAL,
    RULE_TESTS,
    RULES,
    DASHBOARD,
    kubernetes_config_on_file_sd,
    load_rules,
    rules_of,
    to_bool_comparisons,
    tool,
)


def promtool(*args, cwd=None):
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_promtool_check_rules():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(group["rules"]) for group in load_rules()["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


def test_promtool_unit_tests_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    alerts = {rule["alert"] for rule in rules_of("alert")}
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing, quiet = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            assert check["alertname"] in alerts, f"unit test for an alert that does not exist: {check['alertname']}"
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - firing == set(), f"alerts never shown firing: {sorted(alerts - firing)}"
    assert alerts - quiet == set(), f"alerts never shown quiet: {sorted(alerts - quiet)}"


def test_every_alert_has_severity_summary_description_and_runbook():
    for rule in rules_of("alert"):
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        for key in ("summary", "description", "runbook"):
            assert len(rule["annotations"].get(key, "")) > 20, f"{rule['alert']} lacks annotations.{key}"


def test_every_record_is_used_by_an_alert_a_record_or_the_dashboard():
    readers = [rule["expr"] for rule in rules_of("alert") + rules_of("record")] + [DASHBOARD.read_text()]
    unused = [rule["record"] for rule in rules_of("record")
              if not any(re.search(re.escape(rule["record"]) + r"\b", text) for text in readers)]
    assert unused == []


def test_bool_conversion_used_by_the_live_test_leaves_matchers_and_ranges_alone():
    assert to_bool_comparisons('a{s!="2", r=~"x>y"} >= 0.5 and on (m) b[5m] != bool 1 or c == 0') == \
        'a{s!="2", r=~"x>y"} >= bool 0.5 and on (m) b[5m] != bool 1 or c == bool 0'


def mutated_rules_fail_their_tests(tmp_path, old: str, new: str, alert: str) -> None:
    text = RULES.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in the rules"
    (tmp_path / "sentinel-rules.yml").write_text(text.replace(old, new))
    shutil.copy(RULE_TESTS, tmp_path / "sentinel-rules.test.yml")
    result = promtool("test", "rules", "sentinel-rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0, f"the unit tests did not notice {old!r} -> {new!r}"
    assert f"alertname: {alert}" in result.stdout + result.stderr


def test_unit_tests_catch_a_changed_latency_threshold(tmp_path):
    mutated_rules_fail_their_tests(tmp_path, 'p95_5m{route="/predict"} > 0.05', 'p95_5m{route="/predict"} > 0.1',
                                   "SentinelHighLatencyP95")


def test_unit_tests_catch_probes_counted_as_errors(tmp_path):
    mutated_rules_fail_their_tests(
        tmp_path,
        'sum by (namespace, job) (rate(sentinel_http_requests_total{route!~"/readyz|/healthz|/metrics", status=~"5.."}[5m]))',
        'sum by (namespace, job) (rate(sentinel_http_requests_total{status=~"5.."}[5m]))',
        "SentinelHighErrorRate")


def test_unit_tests_catch_a_changed_audit_backlog_share(tmp_path):
    mutated_rules_fail_their_tests(tmp_path, "          ) > 0.5\n", "          ) > 0.7\n", "SentinelAuditQueueBacklog")


def test_unit_tests_catch_an_audit_backlog_read_in_rows_only(tmp_path):
    """The queue is bounded in bytes of request bodies too (2 KiB a row): large requests fill it at
    a fraction of its rows, so the warning must read the larger share."""
    text = RULES.read_text()
    start = text.index("        expr: |\n          (\n              sentinel_audit_queue_depth")
    end = text.index("          ) > 0.5\n", start) + len("          ) > 0.5\n")
    mutated_rules_fail_their_tests(tmp_path, text[start:end],
                                   "        expr: sentinel_audit_queue_depth / sentinel_audit_queue_capacity > 0.5\n",
                                   "SentinelAuditQueueBacklog")


def test_runbooks_that_roll_back_or_promote_go_through_git():
    """Each replica promotes what its desired-versions file (rendered from Git) pins, once a second:
    a promote or rollback run in a pod is undone, one run on the operator's registry alone changes
    nothing deployed. A runbook that says to roll back or promote must say --gitops."""
    for rule in rules_of("alert"):
        runbook = rule["annotations"]["runbook"]
        for sentence in re.split(r"(?<=[.;])\s", runbook):
            if re.search(r"\b(roll(ed)? back|rollback|promote)\b", sentence, re.IGNORECASE) \
                    and re.search(r"registry-cli (rollback|promote)|\broll back\b", sentence):
                assert "--gitops" in sentence or "Git" in sentence, f"{rule['alert']}: {sentence}"


def test_local_config_passes_promtool_and_scrapes_the_demo_port():
    result = promtool("check", "config", str(PROMETHEUS_LOCAL))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    config = yaml.safe_load(PROMETHEUS_LOCAL.read_text())
    assert [(PROMETHEUS_LOCAL.parent / path).resolve() for path in config["rule_files"]] == [RULES.resolve()]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "sentinel"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8080"]


def test_kubernetes_config_passes_promtool(tmp_path):
    config = yaml.safe_load(PROMETHEUS_K8S.read_text())
    assert [(PROMETHEUS_K8S.parent / path).resolve() for path in config["rule_files"]] == [RULES.resolve()]
    roles = {job["job_name"]: [sd["role"] for sd in job.get("kubernetes_sd_configs", [])] for job in config["scrape_configs"]}
    assert roles == {"sentinel": ["pod"], "kubernetes-cadvisor": ["node"], "kube-state-metrics": ["endpoints"]}

    # An upstream promtool checks the file as it is; Debian's knows no Kubernetes discovery.
    direct = promtool("check", "config", str(PROMETHEUS_K8S))
    if direct.returncode != 0:
        unknown = set(re.findall(r"field (\w+) not found in type config.ScrapeConfig", direct.stdout + direct.stderr))
        assert unknown == {"kubernetes_sd_configs"}, direct.stdout + direct.stderr

    derived = tmp_path / "prometheus.yml"
    derived.write_text(yaml.safe_dump(kubernetes_config_on_file_sd(config, tmp_path, {})))
    result = promtool("check", "config", str(derived))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    count = sum(len(group["rules"]) for group in load_rules()["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


def test_helm_chart_carries_the_same_rules():
    assert HELM_RULES.is_file(), f"{HELM_RULES} is missing: copy {RULES} there"
    assert HELM_RULES.read_bytes() == RULES.read_bytes(), f"{HELM_RULES} differs from {RULES}: copy it again"
