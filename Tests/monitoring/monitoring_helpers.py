"""Shared paths and helpers for the tests of monitoring/ (Prometheus rules and configs, Grafana dashboard).

They need Debian's `prometheus` package (prometheus and promtool), `check-jsonschema` from PyPI,
PyYAML, the schemas in ../shared/schemas, and the debug build of registry-cli for the live test.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
RULES = MONITORING / "rules" / "sentinel-rules.yml"
RULE_TESTS = MONITORING / "rules" / "sentinel-rules.test.yml"
HELM_RULES = REPO / "helm" / "sentinel" / "files" / "sentinel-rules.yml"
PROMETHEUS_K8S = MONITORING / "prometheus" / "prometheus.yml"
PROMETHEUS_LOCAL = MONITORING / "prometheus" / "prometheus-local.yml"
DASHBOARD = MONITORING / "grafana" / "sentinel-dashboard.json"
PROVISIONING = MONITORING / "grafana" / "provisioning"
# Beside the repository (`../shared/schemas`), or where $SHARED_SCHEMAS says.
SCHEMAS = Path(os.environ.get("SHARED_SCHEMAS", REPO.parent / "shared" / "schemas"))
REGISTRY_CLI = REPO / ".build" / "debug" / "registry-cli"


# Loopback requests must not go through a proxy the environment may name.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, content_type="application/json", timeout=10):
    """(status, body bytes); status 0 when the server did not answer."""
    headers = {"Content-Type": content_type} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:  # refused, reset or timed out (URLError is one)
        return 0, b""


def wait_for(what, check, timeout, logs=(), interval=0.1):
    """Polls `check` until it returns something true, and returns it; fails with the tails of
    `logs` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    tails = "".join(f"\n--- {path.name} ---\n" + path.read_text(errors="replace")[-3000:] for path in logs if path.exists())
    pytest.fail(f"timed out after {timeout} s waiting for {what}{tails}")


def stop(process, timeout=10):
    """Stops a process this test started (SIGTERM, then SIGKILL after `timeout` seconds)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def service_env(db: Path, actor: str) -> dict:
    """The environment for registry-cli on registry `db`: this process's, without the variables a
    developer's shell may set for the service (HOST, PORT, REGISTRY_DB)."""
    env = {key: value for key, value in os.environ.items() if key not in {"HOST", "PORT", "REGISTRY_DB"}}
    env.update(REGISTRY_DB=str(db), REGISTRY_ACTOR=actor)
    return env


def start_service(work: Path, env: dict) -> tuple[subprocess.Popen, str, Path]:
    """Starts `registry-cli serve` on a free loopback port (it picks one: --port 0), reloading every
    100 ms, its output in `work`; returns the process once it listens, its URL and its log. The
    caller stops it (`stop`)."""
    if not REGISTRY_CLI.is_file():
        pytest.fail(f"{REGISTRY_CLI} is missing: run swift build first")
    log = work / "serve.log"
    with open(work / "serve.out", "wb") as out, open(log, "wb") as err:
        process = subprocess.Popen([str(REGISTRY_CLI), "serve", "--host", "127.0.0.1", "--port", "0", "--reload-interval", "100"],
                                   env=env, cwd=REPO, stdout=out, stderr=err)

    def listening():
        for line in (work / "serve.out").read_text().splitlines():
            if line.startswith("listening on http://"):
                return line.removeprefix("listening on ")
        assert process.poll() is None, log.read_text()
        return None

    try:
        return process, wait_for("the service to listen", listening, 30, (log,)), log
    except BaseException:
        stop(process)
        raise


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: apt-get install -y --no-install-recommends prometheus")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_rules() -> dict:
    return yaml.safe_load(RULES.read_text())


def rules_of(kind: str) -> list:
    """Every rule of the rules file that has the key `kind` ("alert" or "record")."""
    return [rule for group in load_rules()["groups"] for rule in group["rules"] if kind in rule]


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def to_bool_comparisons(expr: str) -> str:
    """The expression with every comparison operator made a `bool` one, so that it returns 0 or 1
    for each series instead of filtering: `a > 0.05 and b > 1` becomes `a > bool 0.05 and b > bool 1`.
    Label matchers (inside braces), ranges (inside brackets) and strings are left alone."""
    out = []
    i, depth_brace, depth_bracket, quote = 0, 0, 0, None
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\":
                out.append(expr[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "\"'`":
            quote = c
        elif c == "{":
            depth_brace += 1
        elif c == "}":
            depth_brace -= 1
        elif c == "[":
            depth_bracket += 1
        elif c == "]":
            depth_bracket -= 1
        elif depth_brace == 0 and depth_bracket == 0:
            op = next((o for o in ("==", "!=", ">=", "<=", ">", "<") if expr.startswith(o, i)), None)
            if op:
                rest = expr[i + len(op):]
                out.append(op if re.match(r"\s*bool\b", rest) else op + " bool")
                i += len(op)
                continue
        out.append(c)
        i += 1
    return "".join(out)


SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount/"


def kubernetes_config_on_file_sd(config: dict, workdir: Path, sd_files: dict) -> dict:
    """monitoring/prometheus/prometheus.yml as Debian's Prometheus can load it.

    Debian builds Prometheus without Kubernetes service discovery ("Kubernetes support has been
    completely removed", /usr/share/doc/prometheus/NEWS.Debian.gz), so its promtool rejects
    `kubernetes_sd_configs`. Here each job's kubernetes_sd_configs becomes a file_sd_configs reading
    sd_files[job] (a JSON file of targets whose labels are the __meta_kubernetes_* labels that pod
    discovery would set), the service-account files become placeholders in workdir, and rule files
    become absolute. Everything else (relabelling, TLS, auth, intervals) is left as written.
    """
    config = json.loads(json.dumps(config))
    (workdir / "serviceaccount").mkdir(exist_ok=True)
    for name in ("ca.crt", "token"):
        (workdir / "serviceaccount" / name).write_text("placeholder\n")

    def relocate(node):
        if isinstance(node, dict):
            return {key: relocate(value) for key, value in node.items()}
        if isinstance(node, list):
            return [relocate(value) for value in node]
        if isinstance(node, str) and node.startswith(SERVICE_ACCOUNT):
            return str(workdir / "serviceaccount" / node[len(SERVICE_ACCOUNT):])
        return node

    config = relocate(config)
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            path = sd_files.get(job["job_name"])
            if path is None:
                path = workdir / f"sd-{job['job_name']}.json"
                path.write_text("[]\n")
            job["file_sd_configs"] = [{"files": [str(path)], "refresh_interval": "1s"}]
    config["rule_files"] = [str((PROMETHEUS_K8S.parent / path).resolve()) for path in config["rule_files"]]
    return config
