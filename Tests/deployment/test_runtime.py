"""The chart's pod run as plain processes: the rendered init container and serve container, with
their command, arguments and environment, started from .build/debug/registry-cli on a fresh
"volume" directory; and the GitOps promotion (`promote/rollback --gitops`) on a copy of
argocd/values-prod.yaml. Only loopback traffic."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from deployment_helpers import (
    PROD_VALUES,
    REPO,
    Rendered,
    bundle_examples,
    container,
    env_of,
    free_port,
    healthcheck_command,
    init_container,
    pod_spec,
    registry_cli,
    run,
)

READY_WITHIN = 30.0  # seconds
# Paths the image provides (Dockerfile): where they are in this checkout.
IMAGE_PATHS = {"/opt/sentinel/models": REPO / "models"}


def http(method: str, url: str, body: dict | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


class Pod:
    """The StatefulSet's pod template, mapped onto this machine: each volume a directory, each
    image path its place in the checkout, `registry-cli` the debug build, HOST and PORT loopback."""

    def __init__(self, rendered: Rendered, root: Path):
        self.rendered = rendered
        self.root = root
        self.port = free_port()
        statefulset = rendered.one("StatefulSet")
        spec = pod_spec(rendered)
        sources: dict[str, Path] = {}
        for claim in statefulset["spec"]["volumeClaimTemplates"]:
            sources[claim["metadata"]["name"]] = self.fresh_dir(f"pvc-{claim['metadata']['name']}")
        for volume in spec["volumes"]:
            directory = self.fresh_dir(f"volume-{volume['name']}")
            if "configMap" in volume:
                configmap = rendered.one("ConfigMap", volume["configMap"]["name"])
                for key, text in configmap["data"].items():
                    (directory / key).write_text(text)
            else:
                assert "emptyDir" in volume, f"volume {volume['name']}: the test knows PVCs, ConfigMaps and emptyDirs"
            sources[volume["name"]] = directory
        self.volumes = sources
        self.paths: dict[str, Path] = dict(IMAGE_PATHS)
        for c in (init_container(rendered), container(rendered)):
            for mount in c["volumeMounts"]:
                self.paths[mount["mountPath"]] = sources[mount["name"]]

    def fresh_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir()
        return path

    def host_path(self, value: str) -> str:
        for inside in sorted(self.paths, key=len, reverse=True):
            if value == inside or value.startswith(inside + "/"):
                return str(self.paths[inside]) + value[len(inside):]
        return value

    def process(self, c: dict) -> tuple[list[str], dict[str, str]]:
        command = c["command"] + c.get("args", [])
        assert command[0] == "registry-cli", command
        argv = [str(registry_cli())] + [self.host_path(arg) for arg in command[1:]]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), "LANG": "C.UTF-8"}
        for key, value in env_of(c).items():
            env[key] = self.host_path(value)
        if "HOST" in env:
            env["HOST"] = "127.0.0.1"
        if "PORT" in env:
            env["PORT"] = str(self.port)
        return argv, env

    @property
    def registry(self) -> str:
        return self.host_path(env_of(container(self.rendered))["REGISTRY_DB"])

    @property
    def desired_file(self) -> Path:
        return Path(self.host_path(env_of(container(self.rendered))["DESIRED_VERSIONS_FILE"]))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def cli_json(registry: str, *args: str):
    result = run([str(registry_cli()), *args, "--json"], env={**os.environ, "REGISTRY_DB": registry})
    return json.loads(result.stdout)


def versions(registry: str, model: str = "fraud") -> list[dict]:
    return cli_json(registry, "list", "--model", model)


def golden_row(version: str) -> dict:
    """The first golden row of the bundled example that became `version` (bundle order: v1, v2...)."""
    example = bundle_examples()[int(version.lstrip("v")) - 1]
    with open(REPO / "models" / example / "golden.jsonl") as handle:
        return json.loads(handle.readline())


def predict(pod: Pod, request_id: str) -> dict:
    row = golden_row("v1")
    status, body = http("POST", pod.url("/predict"), {"features": row["features"], "request_id": request_id})
    assert status == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def pod(tmp_path_factory, prod_values):
    rendered = Rendered(prod_values)
    pod = Pod(rendered, tmp_path_factory.mktemp("pod"))
    init_argv, init_env = pod.process(init_container(rendered))
    pod.first_init = run(init_argv, env=init_env, timeout=300)
    pod.versions_after_init = versions(pod.registry)
    # A restarted pod runs its init container again on the same volume.
    pod.second_init = run(init_argv, env=init_env, timeout=300)
    pod.versions_after_second_init = versions(pod.registry)

    argv, env = pod.process(container(rendered))
    pod.log = pod.root / "serve.log"
    with open(pod.log, "wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    pod.process_handle = process
    try:
        deadline = time.monotonic() + READY_WITHIN
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited {process.returncode} before /readyz said 200:\n{pod.log.read_text()[-4000:]}")
            if http("GET", pod.url("/readyz"), timeout=1)[0] == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"/readyz not 200 within {READY_WITHIN:.0f} s:\n{pod.log.read_text()[-4000:]}")
            time.sleep(0.2)
        pod.ready_after = READY_WITHIN - (deadline - time.monotonic())
        yield pod
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_init_container_creates_and_fills_an_empty_registry(pod):
    assert Path(pod.registry).is_file()
    labels = [v["version"] for v in pod.versions_after_init]
    assert labels == [f"v{n}" for n in range(1, len(bundle_examples()) + 1)]
    assert pod.versions_after_second_init == pod.versions_after_init, "bootstrap is not idempotent"
    assert Path(pod.registry).parent == pod.volumes["data"], "the registry is not on the PVC"


def test_serves_the_version_pinned_in_values(pod, prod_values):
    model = prod_values["model"]
    status, _ = http("GET", pod.url("/healthz"))
    assert status == 200
    row = golden_row(model["version"])
    status, body = http("POST", pod.url("/predict"), {"features": row["features"], "request_id": "deploy-test-1"})
    assert status == 200, body
    reply = json.loads(body)
    assert reply["version"] == model["version"] and reply["model"] == model["name"]
    assert abs(reply["score"] - row["score"]) <= 1e-6
    # It became production in the pod's own registry, by the GitOps applier.
    production = [v["version"] for v in versions(pod.registry) if v["stage"] == "production"]
    assert production == [model["version"]]


def test_replica_audit_logs_copied_out_are_queried_together(pod, tmp_path, prod_values):
    """docs/deploy.md's offline recipe: consistent copies of replicas' registries (each file with
    its WAL, as a snapshot or a stopped replica's volume holds them; the pod here is idle while
    they are copied), then `registry-cli audit --db A --include B`."""
    request_id = "deploy-audit-1"
    predict(pod, request_id)
    live = Path(pod.registry)
    copies = []
    for replica in ("replica-0", "replica-1"):
        directory = tmp_path / replica
        directory.mkdir()
        for suffix in ("", "-wal"):
            if live.with_name(live.name + suffix).exists():
                shutil.copyfile(live.with_name(live.name + suffix), directory / (live.name + suffix))
        copies.append(str(directory / live.name))
    rows = cli_json(copies[0], "audit", "--include", copies[1], "--request-id", request_id)
    assert sorted(row["registry"] for row in rows) == sorted(copies)
    assert {row["version"] for row in rows} == {prod_values["model"]["version"]}


def test_image_healthcheck_command_against_the_server(pod):
    command = healthcheck_command()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    assert run(command, ok=False, env={**env, "PORT": str(pod.port)}, timeout=10).returncode == 0
    assert run(command, ok=False, env={**env, "PORT": str(free_port())}, timeout=10).returncode != 0


def wait_for_version(pod: Pod, version: str, within: float = 20.0) -> dict:
    deadline = time.monotonic() + within
    reply = {}
    while time.monotonic() < deadline:
        reply = predict(pod, "deploy-reload")
        if reply["version"] == version:
            return reply
        time.sleep(0.25)
    pytest.fail(f"still serving {reply.get('version')} {within:.0f} s after the desired version became {version}:\n"
                f"{pod.log.read_text()[-4000:]}")


def write_like_the_kubelet(path: Path, text: str) -> None:
    """The kubelet swaps a ConfigMap volume's files atomically; a rename does the same here."""
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(text)
    os.replace(staged, path)


def test_a_new_desired_version_is_applied_by_hot_reload(pod, prod_values):
    name, pinned = prod_values["model"]["name"], prod_values["model"]["version"]
    other = "v2" if pinned != "v2" else "v1"
    pid = pod.process_handle.pid
    write_like_the_kubelet(pod.desired_file, json.dumps({name: other}))
    wait_for_version(pod, other)
    history = cli_json(pod.registry, "history", "--model", name)
    assert history[-1]["to"] == other and history[-1]["by"] == "gitops", history[-1]
    write_like_the_kubelet(pod.desired_file, json.dumps({name: pinned}))
    wait_for_version(pod, pinned)
    assert pod.process_handle.poll() is None and pod.process_handle.pid == pid, "the server restarted"


# --- GitOps: promote / rollback --gitops on a values file ---------------------------------------


def test_gitops_promotion_rewrites_only_the_pinned_version(tmp_path):
    cli = str(registry_cli())
    env = {**os.environ, "REGISTRY_DB": str(tmp_path / "operator.db"), "REGISTRY_ACTOR": "deploy-test"}
    run([cli, "bootstrap", "--models", str(REPO / "models"), "--model", "fraud"], env=env, timeout=300)
    original_text = PROD_VALUES.read_bytes()
    original = yaml.safe_load(original_text)
    assert original["model"]["version"] == "v3", "the test expects prod to pin v3"
    run([cli, "promote", "v3", "--model", "fraud"], env=env)
    digests = {v["version"]: v["artifact_sha256"] for v in versions(env["REGISTRY_DB"])}
    assert original["model"]["sha256"] == digests["v3"]

    workdir = tmp_path / "argocd"
    workdir.mkdir()
    values = workdir / "values-prod.yaml"
    shutil.copyfile(PROD_VALUES, values)

    run([cli, "promote", "v2", "--model", "fraud", "--gitops", str(values)], env=env)
    promoted_text = values.read_bytes()
    before, after = original_text.decode().splitlines(True), promoted_text.decode().splitlines(True)
    assert len(before) == len(after), "lines were added or removed"
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(changed) == 2, "".join(difflib.unified_diff(before, after))
    version_line, digest_line = changed
    assert before[version_line].replace("v3", "v2") == after[version_line] and before[version_line].strip().startswith("version:")
    assert before[digest_line].replace(digests["v3"], digests["v2"]) == after[digest_line]
    expected = json.loads(json.dumps(original))
    expected["model"]["version"] = "v2"
    expected["model"]["sha256"] = digests["v2"]
    assert yaml.safe_load(promoted_text) == expected
    assert [p.name for p in workdir.iterdir()] == ["values-prod.yaml"], "a temporary file was left behind"
    production = [v["version"] for v in versions(env["REGISTRY_DB"]) if v["stage"] == "production"]
    assert production == ["v2"]
    # What ArgoCD would render from the committed file.
    rendered = Rendered(yaml.safe_load(promoted_text))
    assert json.loads(rendered.one("ConfigMap")["data"]["desired-versions.json"]) == {
        "fraud": {"version": "v2", "sha256": digests["v2"]}
    }

    run([cli, "rollback", "--model", "fraud", "--gitops", str(values)], env=env)
    assert values.read_bytes() == original_text
    production = [v["version"] for v in versions(env["REGISTRY_DB"]) if v["stage"] == "production"]
    assert production == ["v3"]
