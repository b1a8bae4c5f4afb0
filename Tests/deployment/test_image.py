"""The container image's recipe (Dockerfile, .dockerignore), the scripts that build and deploy it,
checked with hadolint and shellcheck, and the scripts run against stand-ins for docker, podman,
kind, minikube, helm and kubectl (no engine or cluster exists here) to see what they would do."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import helm_python
import pytest

from deployment_helpers import (
    DOCKERFILE,
    REPO,
    Rendered,
    bundle_examples,
    container,
    env_of,
    final_stage,
    init_container,
    instruction,
    load_yaml,
    image_env,
    run,
    stages,
    tool,
)

DOCKERIGNORE = REPO / ".dockerignore"


# --- the Dockerfile -----------------------------------------------------------------------------


def test_hadolint():
    result = run([tool("hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)], ok=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_not_lenient(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN apt-get install curl\n")
    assert run([tool("hadolint"), "--no-color", str(bad)], ok=False).returncode != 0


def test_multi_stage_release_build_with_static_stdlib():
    build, runtime = stages()[0], final_stage()
    assert len(stages()) == 2
    assert re.match(r"swift:6\.\d+(\.\d+)?-noble AS build$", instruction(build, "FROM"))
    swift_build = [a for k, a in build if k == "RUN" and "swift build" in a]
    assert swift_build, "no swift build in the build stage"
    assert re.search(r"swift build -c release --static-swift-stdlib --product registry-cli", swift_build[0])
    assert instruction(runtime, "FROM") in ("ubuntu:noble", "debian:trixie-slim")


def test_runtime_installs_only_libsqlite3_and_jemalloc():
    (install,) = [a for k, a in final_stage() if k == "RUN" and "apt-get install" in a]
    command = install.split("apt-get install", 1)[1].split("&&", 1)[0].split()
    assert [word for word in command if not word.startswith("-")] == ["libsqlite3-0", "libjemalloc2"]
    assert "rm -rf /var/lib/apt/lists/*" in install
    # The service runs with jemalloc: the preloaded path is the link this RUN makes, whatever the
    # architecture's library directory.
    preload = image_env()["LD_PRELOAD"]
    assert re.search(r"ln -s /usr/lib/\*-linux-gnu/libjemalloc\.so\.2 " + re.escape(preload) + r"(\s|$)", install), install


def test_runs_as_uid_10001_with_the_cli_as_entrypoint():
    runtime = final_stage()
    assert instruction(runtime, "USER").split(":")[0] == "10001"
    assert json.loads(instruction(runtime, "ENTRYPOINT")) == ["registry-cli"]
    assert json.loads(instruction(runtime, "CMD")) == ["serve"]
    assert "8080" in instruction(runtime, "EXPOSE").split()
    assert "--uid 10001" in " ".join(a for k, a in runtime if k == "RUN")


def test_image_environment_matches_the_chart(default_render):
    env = image_env()
    assert env["HOST"] == "0.0.0.0" and env["PORT"] == "8080"
    assert env["REGISTRY_DB"] == "/data/registry.db" and env["LOG_FORMAT"] == "json"
    serve = env_of(container(default_render))
    for key in ("PORT", "REGISTRY_DB", "LOG_FORMAT", "SQLITE_TMPDIR"):
        assert serve[key] == env[key], key
    assert json.loads(instruction(final_stage(), "VOLUME")) == [os.path.dirname(env["REGISTRY_DB"])]
    # The chart runs the image's entrypoint by name.
    assert container(default_render)["command"] == init_container(default_render)["command"] == ["registry-cli"]


def test_models_are_bundled_where_the_chart_looks(default_render):
    copies = [a for k, a in final_stage() if k == "COPY"]
    assert any(a.endswith(" /opt/sentinel/models/") for a in copies), copies
    assert "/opt/sentinel/models" in init_container(default_render)["args"]
    build = " ".join(a for k, a in stages()[0] if k == "RUN")
    assert "models/bundle.txt" in build


def dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "the matcher below does not handle exceptions"
    return patterns


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: a path is left out when a pattern matches it or one of its parents."""

    def regex(pattern: str) -> re.Pattern:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out + r"\Z")

    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(regex(p.strip("/")).match(prefix) for p in patterns for prefix in prefixes)


def test_dockerignore_keeps_the_package_and_the_bundle_but_not_the_build():
    patterns = dockerignore_patterns()
    for excluded in (".build/release/registry-cli", ".git/HEAD", "registry.db", "models/fraud-xgboost-large/model.json"):
        assert ignored(excluded, patterns), excluded
    # SwiftPM wants every target's folder, Package.swift declares them all.
    for kept in ("Package.swift", "Sources/registry-cli/Serve.swift", "migrations/001_registry.sql",
                 "Tests/CLITests", "bench/Sources/sentinel-bench", "models/bundle.txt"):
        assert not ignored(kept, patterns), kept
    examples = bundle_examples()
    assert examples, "models/bundle.txt names no example"
    for example in examples:
        for file in (REPO / "models" / example).iterdir():
            assert not ignored(f"models/{example}/{file.name}", patterns), f"models/{example}/{file.name}"


# --- scripts ------------------------------------------------------------------------------------


def shell_scripts() -> list[Path]:
    return sorted((REPO / "scripts").glob("*.sh")) + sorted((REPO / "bench").glob("*.sh")) + [REPO / ".ci" / "run"]


def test_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed (apt-get install shellcheck; .ci/run does it)")
    scripts = shell_scripts()
    assert {p.name for p in scripts} >= {"build-image.sh", "setup-k8s.sh", "serve.sh", "runtime.sh", "run"}
    result = run([shellcheck, *map(str, scripts)], ok=False)
    assert result.returncode == 0, result.stdout + result.stderr


STUB = """#!{bash}
printf '%s\\n' "${{0##*/}} $* [cwd=$PWD]" >> "$STUB_LOG"
{extra}
exit 0
"""


def hermetic_bin(tmp_path: Path, stubs: dict[str, str]) -> Path:
    """A PATH holding the few real tools the scripts use and stand-ins that log their arguments."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for real in ("bash", "dirname", "basename", "grep", "sed", "mktemp", "rm", "cat"):
        found = shutil.which(real)
        assert found, real
        (bindir / real).symlink_to(found)
    for name, extra in stubs.items():
        stub = bindir / name
        stub.write_text(STUB.format(bash=shutil.which("bash"), extra=extra))
        stub.chmod(0o755)
    return bindir


def run_script(script: str, args: list[str], bindir: Path, tmp_path: Path, env: dict[str, str] | None = None):
    log = tmp_path / "calls.log"
    log.touch()
    environment = {"PATH": str(bindir), "STUB_LOG": str(log), "HOME": str(tmp_path), "TMPDIR": str(tmp_path), **(env or {})}
    result = run([str(bindir / "bash"), str(REPO / "scripts" / script), *args], ok=False, env=environment, cwd=tmp_path)
    return result, log.read_text().splitlines()


@pytest.mark.parametrize(
    "engines, expected",
    [
        (["podman"], f"podman build --format docker --tag my/sentinel:1 --file Dockerfile . [cwd={REPO}]"),
        (["docker", "podman"], f"docker build --tag my/sentinel:1 --file Dockerfile . [cwd={REPO}]"),
        (["docker"], f"docker build --tag my/sentinel:1 --file Dockerfile . [cwd={REPO}]"),
    ],
    ids=["podman-only", "both", "docker-only"],
)
def test_build_image_uses_whichever_engine_exists(engines, expected, tmp_path):
    bindir = hermetic_bin(tmp_path, {engine: "" for engine in engines})
    result, calls = run_script("build-image.sh", ["my/sentinel:1"], bindir, tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == [expected]


def test_build_image_without_an_engine_says_so(tmp_path):
    bindir = hermetic_bin(tmp_path, {})
    result, calls = run_script("build-image.sh", [], bindir, tmp_path)
    assert result.returncode != 0 and "neither docker nor podman" in result.stderr and calls == []


def merge(into: dict, values: dict) -> dict:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def set_values(helm_call: str) -> dict:
    """The values that the logged `helm upgrade ... --set a=b ...` passes, parsed by Helm's parser."""
    words = helm_call.split(" [cwd=")[0].split()
    values: dict = {}
    for index, word in enumerate(words):
        if word == "--set":
            merge(values, helm_python.parse_set_string(words[index + 1]))
    return values


@pytest.mark.parametrize("cluster", ["kind", "minikube"])
def test_setup_k8s_builds_loads_installs_and_waits(cluster, tmp_path):
    stubs = {
        "podman": "",
        "helm": "",
        "kubectl": "",
        # No cluster exists yet: `kind get clusters` lists none, `minikube status` fails.
        "kind": "",
        "minikube": '[ "$1" = status ] && exit 1',
    }
    bindir = hermetic_bin(tmp_path, stubs)
    result, calls = run_script(
        "setup-k8s.sh", ["--cluster", cluster, "--engine", "podman", "--no-port-forward"], bindir, tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    programs = [call.split()[0] for call in calls]
    image = "localhost/sentinel:dev"
    if cluster == "kind":
        assert calls[0].startswith("kind get clusters") and calls[1].startswith("kind create cluster --name sentinel")
        load = next(c for c in calls if c.startswith("kind load image-archive "))
    else:
        assert calls[0].startswith("minikube status") and calls[1].startswith("minikube start --profile sentinel --driver podman")
        assert any(c.startswith("minikube addons enable metrics-server") for c in calls)
        load = next(c for c in calls if c.startswith("minikube image load "))
    build = calls.index(f"podman build --format docker --tag {image} --file Dockerfile . [cwd={REPO}]")
    save = next(i for i, c in enumerate(calls) if c.startswith("podman save --output "))
    archive = calls[save].split()[3]
    assert archive in load and build < save < calls.index(load)
    helm = next(i for i, c in enumerate(calls) if c.startswith("helm upgrade --install sentinel helm/sentinel "))
    assert "--namespace sentinel --create-namespace" in calls[helm] and "--wait" in calls[helm]
    assert calls.index(load) < helm
    rollout = next(i for i, c in enumerate(calls) if c.startswith("kubectl ") and "rollout status statefulset/sentinel" in c)
    assert helm < rollout and programs.count("helm") == 1
    assert not os.path.exists(archive), "the image archive is left behind"
    # What the script sets renders with the chart, and runs the image it loaded, never pulled.
    values = set_values(calls[helm])
    serve = container(Rendered(values))
    assert serve["image"] == image and serve["imagePullPolicy"] == "Never"


def test_setup_k8s_leaves_monitoring_out_of_a_cluster_without_the_operator(tmp_path):
    """Staging's values turn on a ServiceMonitor, which a cluster without the Prometheus Operator's
    CRDs refuses: the script turns it (and the PrometheusRule) off there, and only there."""
    values_file = str(REPO / "argocd" / "values-staging.yaml")
    for has_operator in (False, True):
        stubs = {
            "podman": "",
            "helm": "",
            "kubectl": "" if has_operator else '[ "$3 $4" = "get crd" ] && exit 1',
            "kind": "",
            "minikube": '[ "$1" = status ] && exit 1',
        }
        directory = tmp_path / str(has_operator)
        directory.mkdir()
        bindir = hermetic_bin(directory, stubs)
        result, calls = run_script(
            "setup-k8s.sh", ["--cluster", "kind", "--engine", "podman", "--no-port-forward", "--values", values_file],
            bindir, directory,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        helm = next(c for c in calls if c.startswith("helm upgrade --install sentinel helm/sentinel "))
        assert f"--values {values_file}" in helm
        values = set_values(helm)
        if has_operator:
            assert "metrics" not in values, helm
        else:
            assert values["metrics"] == {"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False}}, helm
            rendered = Rendered(merge(load_yaml(Path(values_file)), values))
            assert "ServiceMonitor" not in rendered.kinds() and "PrometheusRule" not in rendered.kinds()


def test_setup_k8s_ps1_installs_the_same_way_as_the_shell_script():
    shell = (REPO / "scripts" / "setup-k8s.sh").read_text()
    powershell = (REPO / "scripts" / "setup-k8s.ps1").read_text()
    for text in ("image_repository=localhost/sentinel", "image_tag=dev", "image.pullPolicy=Never", "--create-namespace"):
        assert text in shell, text
    for text in ("$imageRepository = 'localhost/sentinel'", "$imageTag = 'dev'", "image.pullPolicy=Never",
                 "'--create-namespace'", "kind load image-archive", "minikube image load", "'--format', 'docker'",
                 'rollout status "statefulset/$fullname"', "port-forward",
                 "get crd servicemonitors.monitoring.coreos.com", "metrics.serviceMonitor.enabled=false"):
        assert text in powershell, text
