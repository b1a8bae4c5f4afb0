"""Helpers shared by the deployment tests (conftest.py holds the fixtures): render the Helm chart with the real Helm engine
(helm-python-sdk, Helm 4), run the real linters and validators, and find the repository's files.

Run with `python3 -m pytest Tests/deployment` after the Swift build (the entrypoint and --gitops
tests start .build/debug/registry-cli). Needs the packages .ci/run installs.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "sentinel"
ARGOCD = REPO / "argocd"
PROD_VALUES = ARGOCD / "values-prod.yaml"
STAGING_VALUES = ARGOCD / "values-staging.yaml"
CLI = REPO / ".build" / "debug" / "registry-cli"
DOCKERFILE = REPO / "Dockerfile"
RELEASE = "sentinel"
NAMESPACE = "sentinel"
KUBERNETES_VERSION = "1.37.0"


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --- Helm -------------------------------------------------------------------------------------


def helm_install(values: dict[str, Any] | None = None, chart: Path = CHART) -> dict[str, Any]:
    """`helm install --dry-run=client`: the release summary with its rendered manifest and notes.
    Contacts nothing (the API server address is a closed local port)."""
    import helm_python

    with helm_python.Config(
        namespace=NAMESPACE, kube_apiserver="https://127.0.0.1:1", storage_driver="memory"
    ) as config:
        return config.install(chart, RELEASE, values, dry_run="client")


def parse_manifest(manifest: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


class Rendered:
    """A rendered release: its manifest text, its objects and its NOTES.txt."""

    def __init__(self, values: dict[str, Any] | None):
        release = helm_install(values)
        self.values = values
        self.manifest: str = release["manifest"]
        self.notes: str = release.get("notes", "")
        self.objects = parse_manifest(self.manifest)

    def kinds(self) -> list[str]:
        return sorted(obj["kind"] for obj in self.objects)

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [obj for obj in self.all(kind) if name is None or obj["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}: {self.kinds()}"
        return found[0]


def pod_spec(rendered: Rendered) -> dict[str, Any]:
    return rendered.one("StatefulSet")["spec"]["template"]["spec"]


def container(rendered: Rendered, name: str = "sentinel") -> dict[str, Any]:
    found = [c for c in pod_spec(rendered)["containers"] if c["name"] == name]
    assert len(found) == 1, f"no container {name}"
    return found[0]


def init_container(rendered: Rendered, name: str = "bootstrap") -> dict[str, Any]:
    found = [c for c in pod_spec(rendered).get("initContainers", []) if c["name"] == name]
    assert len(found) == 1, f"no init container {name}"
    return found[0]


def env_of(c: dict[str, Any]) -> dict[str, str]:
    env = {}
    for item in c.get("env", []):
        assert "value" in item, f"env {item['name']} is not a plain value: {item}"
        env[item["name"]] = item["value"]
    return env


# --- tools ------------------------------------------------------------------------------------


def tool(name: str) -> str:
    """A console script installed by pip (beside this Python's scripts) or found on PATH."""
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: .ci/run installs it (see Tests/deployment/conftest.py)")
    return found


def run(args: list[str], *, ok: bool = True, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command; with ok=True it must exit 0, and its output is shown when it does not."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if ok and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


# --- CRD schemas from ../shared/schemas -------------------------------------------------------

# Beside the repository (`../shared/schemas`), or where $SHARED_SCHEMAS says.
SHARED_SCHEMAS = Path(os.environ.get("SHARED_SCHEMAS", REPO.parent / "shared" / "schemas"))
CRD_FILES = {
    ("argoproj.io/v1alpha1", "Application"): "argocd-application-crd.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitors-crd.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrules-crd.yaml",
}


def shared_schemas() -> Path:
    if not SHARED_SCHEMAS.is_dir():
        # Skipped, loudly, where the schemas are not laid out (a clone without shared/ beside it);
        # REQUIRE_SHARED_SCHEMAS=1 makes that a failure.
        absent = (f"{SHARED_SCHEMAS} is absent: the CRD schemas (Application, ServiceMonitor, PrometheusRule) "
                  "are looked for in the folder shared/ beside the repository, or in $SHARED_SCHEMAS (see its README.md)")
        if os.environ.get("REQUIRE_SHARED_SCHEMAS") == "1":
            pytest.fail(absent)
        pytest.skip(absent)
    return SHARED_SCHEMAS


def _go_pattern_to_ecma(pattern: str) -> str:
    """CRDs carry Go (RE2) patterns; JSON Schema wants ECMA-262. The only construct in these CRDs
    that ECMA lacks is a leading case-insensitive flag, `(?i)`: spell it out as [xX] classes."""
    if "(?i)" not in pattern:
        return pattern
    body = pattern.replace("(?i)", "")
    out, in_class, escaped = [], False, False
    for ch in body:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == "]":
            in_class = False
            out.append(ch)
        elif ch.isalpha() and not in_class:
            out.append(f"[{ch.lower()}{ch.upper()}]")
        else:
            out.append(ch)
    return "".join(out)


def _strict(node: Any) -> Any:
    """additionalProperties: false wherever properties are listed and unknown fields are not
    preserved, so that a misspelt key fails; Go patterns made ECMA."""
    if isinstance(node, dict):
        if (
            "properties" in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
            and "additionalProperties" not in node
        ):
            node["additionalProperties"] = False
        if isinstance(node.get("pattern"), str):
            node["pattern"] = _go_pattern_to_ecma(node["pattern"])
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)
    return node


def crd_json_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The JSON Schema of one CRD version, strict, with apiVersion and kind pinned."""
    path = shared_schemas() / CRD_FILES[(api_version, kind)]
    crd = load_yaml(path)
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind, path
    versions = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert versions, f"{path} has no version {version}"
    schema = _strict(copy.deepcopy(versions[0]["schema"]["openAPIV3Schema"]))
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    return schema


def check_against_crd(obj: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema on one object against its CRD's schema; returns the finished process."""
    schema_file = tmp_path / f"{obj['kind']}.schema.json"
    schema_file.write_text(json.dumps(crd_json_schema(obj["apiVersion"], obj["kind"])))
    document = tmp_path / f"{obj['kind']}-{obj['metadata']['name']}.yaml"
    document.write_text(yaml.safe_dump(obj, sort_keys=False))
    return run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(schema_file), str(document)],
        ok=False,
    )


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registry_cli() -> Path:
    if not CLI.is_file():
        pytest.fail(f"{CLI} is missing: build it first (swift build)")
    return CLI


def bundle_examples() -> list[str]:
    lines = (REPO / "models" / "bundle.txt").read_text().splitlines()
    return [re.sub(r"#.*", "", line).strip() for line in lines if re.sub(r"#.*", "", line).strip()]


# --- reading the Dockerfile ---------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, arguments))
    return result


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def instruction(stage, keyword: str) -> str:
    found = [arguments for k, arguments in stage if k == keyword]
    assert len(found) == 1, f"expected one {keyword} in the stage, found {found}"
    return found[0]


def image_env() -> dict[str, str]:
    env = {}
    for keyword, arguments in final_stage():
        if keyword == "ENV":
            for word in shlex.split(arguments):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def healthcheck_command() -> list[str]:
    arguments = instruction(final_stage(), "HEALTHCHECK")
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", arguments)
    assert match, f"HEALTHCHECK must use the exec form: {arguments}"
    return json.loads(match.group(1))
