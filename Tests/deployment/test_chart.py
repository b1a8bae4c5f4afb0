"""The Helm chart helm/sentinel, rendered by the real Helm engine (Helm 4 through helm-python-sdk),
checked with helm lint, kubernetes-validate, check-jsonschema (CRDs) and yamllint, and read for
what matters: the one-SQLite-per-replica arrangement, probes, autoscaling, security and GitOps."""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
import shutil
import sys
from pathlib import Path

import helm_python
import pytest
import yaml

from deployment_helpers import (
    ARGOCD,
    CHART,
    KUBERNETES_VERSION,
    PROD_VALUES,
    REPO,
    STAGING_VALUES,
    Rendered,
    bundle_examples,
    check_against_crd,
    container,
    env_of,
    helm_install,
    init_container,
    load_yaml,
    parse_manifest,
    pod_spec,
    run,
)

YAMLLINT_CONFIG = Path(__file__).with_name("yamllint.yaml")
BUILTIN_KINDS = {"StatefulSet", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


# --- rendering ----------------------------------------------------------------------------------


def test_default_values_render_the_workload(default_render):
    assert default_render.kinds() == sorted(
        ["ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "Service", "StatefulSet"]
    )
    assert "port-forward" in default_render.notes and "registry-cli audit" in default_render.notes


def test_prod_values_render_with_monitoring(prod_render):
    assert set(prod_render.kinds()) == BUILTIN_KINDS | {"ServiceMonitor", "PrometheusRule"}


def test_notes_read_the_audit_log_of_every_replica(prod_render):
    """The HPA runs 2 to 10 replicas (6 to 10 in prod), each with its own audit log: the notes list
    the running pods and the retained claims by the StatefulSet's own selector, not a fixed count."""
    notes = prod_render.notes
    match = prod_render.one("StatefulSet")["spec"]["selector"]["matchLabels"]
    selector = ",".join(f"{key}={value}" for key, value in match.items())
    assert f"get pods -l {selector} --field-selector=status.phase=Running -o name" in notes, notes
    assert f"get pvc -l {selector}" in notes, notes
    assert "for i in" not in notes


def test_staging_values_render():
    rendered = Rendered(load_yaml(STAGING_VALUES))
    assert "ServiceMonitor" in rendered.kinds() and "PrometheusRule" not in rendered.kinds()


@pytest.mark.parametrize("values_file", [None, PROD_VALUES, STAGING_VALUES], ids=["default", "prod", "staging"])
def test_helm_lint_strict(values_file):
    values = load_yaml(values_file) if values_file else None
    report = helm_python.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], json.dumps(report, indent=1)
    assert report["total_charts_linted"] == 1


def render_error(values) -> str:
    with pytest.raises(helm_python.HelmError) as failure:
        helm_install(values)
    return str(failure.value)


def test_missing_model_version_fails_rendering():
    # null removes the key from the chart's defaults, as `--set model.version=null` does.
    message = render_error({"model": {"version": None}})
    assert "/model" in message and "version" in message


def test_required_guard_without_the_schema(tmp_path):
    """`required` in the templates stops a render that skips the schema (--skip-schema-validation)."""
    chart = tmp_path / "sentinel"
    shutil.copytree(CHART, chart)
    (chart / "values.schema.json").unlink()
    assert "apiVersion: apps/v1" in helm_install(None, chart=chart)["manifest"]
    with pytest.raises(helm_python.HelmError) as failure:
        helm_install({"model": {"version": None}}, chart=chart)
    assert "model.version is required" in str(failure.value)


@pytest.mark.parametrize(
    "values, complaint",
    [
        ({"autoscaling": {"maxReplicas": "10"}}, "/autoscaling/maxReplicas"),
        ({"replicaCont": 3}, "replicaCont"),
        ({"persistence": {"sise": "1Gi"}}, "sise"),
        ({"model": {"version": "3"}}, "/model/version"),
        ({"model": {"sha256": "ABC"}}, "/model/sha256"),
        ({"persistence": {"accessModes": ["ReadWriteMany"]}}, "/persistence/accessModes"),
        ({"serve": {"audit": {"mode": "fire-and-forget"}}}, "/serve/audit/mode"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ],
    ids=["max-as-string", "unknown-top-key", "unknown-nested-key", "bad-version", "bad-digest", "shared-volume", "audit-mode",
         "pull-policy"],
)
def test_schema_refuses_bad_values(values, complaint):
    message = render_error(values)
    assert "schema" in message and complaint in message, message


def test_min_above_max_fails():
    message = render_error({"autoscaling": {"minReplicas": 5, "maxReplicas": 3}})
    assert "minReplicas must not exceed" in message


# --- validation with the real tools -------------------------------------------------------------


def write_objects(objects, directory: Path) -> list[Path]:
    paths = []
    for index, obj in enumerate(objects):
        path = directory / f"{index:02d}-{obj['kind']}-{obj['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(obj, sort_keys=False))
        paths.append(path)
    return paths


def kubernetes_validate(paths: list[Path]):
    return run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", KUBERNETES_VERSION, *map(str, paths)],
        ok=False,
    )


@pytest.mark.parametrize("which", ["default", "prod"])
def test_kubernetes_validate_strict(which, default_render, prod_render, tmp_path):
    rendered = default_render if which == "default" else prod_render
    # Custom resources have no schema in Kubernetes itself: they are checked against their CRDs below.
    assert {obj["kind"] for obj in rendered.objects} <= BUILTIN_KINDS | {"ServiceMonitor", "PrometheusRule"}
    builtin = [obj for obj in rendered.objects if obj["kind"] in BUILTIN_KINDS]
    paths = write_objects(builtin, tmp_path)
    result = kubernetes_validate(paths)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for path in paths:
        assert f"{path} passed" in output, output


def test_kubernetes_validate_is_strict(default_render, tmp_path):
    """The validator really rejects an unknown field in our StatefulSet (so the test above can fail)."""
    statefulset = copy.deepcopy(default_render.one("StatefulSet"))
    statefulset["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}}
    result = kubernetes_validate(write_objects([statefulset], tmp_path))
    assert result.returncode != 0 and "readinesProbe" in result.stdout + result.stderr


def test_monitoring_objects_match_their_crds(prod_render, tmp_path):
    for kind in ("ServiceMonitor", "PrometheusRule"):
        result = check_against_crd(prod_render.one(kind), tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_crd_check_catches_a_misspelt_key(prod_render, tmp_path):
    monitor = copy.deepcopy(prod_render.one("ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    result = check_against_crd(monitor, tmp_path)
    assert result.returncode != 0 and "intervall" in result.stdout + result.stderr


def argocd_applications():
    return sorted(ARGOCD.glob("application*.yaml"))


def test_argocd_applications_match_the_crd(tmp_path):
    assert argocd_applications(), "argocd/ holds no Application"
    for path in argocd_applications():
        documents = parse_manifest(path.read_text())
        assert len(documents) == 1, f"{path}: one Application per file"
        result = check_against_crd(documents[0], tmp_path)
        assert result.returncode == 0, f"{path}\n{result.stdout}{result.stderr}"


def test_argocd_applications_sync_the_chart_with_their_values():
    for path in argocd_applications():
        app = load_yaml(path)
        spec = app["spec"]
        assert spec["source"]["path"] == "helm/sentinel"
        chart_dir = REPO / spec["source"]["path"]
        assert (chart_dir / "Chart.yaml").is_file()
        (value_file,) = spec["source"]["helm"]["valueFiles"]
        # ArgoCD resolves value files relative to the chart directory, within the repository.
        resolved = (chart_dir / value_file).resolve()
        assert resolved.is_file() and REPO in resolved.parents, f"{path}: {value_file} -> {resolved}"
        assert resolved.parent == ARGOCD
        assert "REPLACE-ME" in spec["source"]["repoURL"]
        automated = spec["syncPolicy"]["automated"]
        assert automated["prune"] is True and automated["selfHeal"] is True
        assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]


def yamllint(paths: list[Path], *, rendered: bool = False):
    """yamllint --strict with Tests/deployment/yamllint.yaml; for Helm's output without the line
    length rule (a PromQL expression in a block scalar cannot be folded)."""
    config = ["-c", str(YAMLLINT_CONFIG)]
    if rendered:
        config = ["-d", json.dumps({"extends": str(YAMLLINT_CONFIG), "rules": {"line-length": "disable"}})]
    return run([sys.executable, "-m", "yamllint", "--strict", *config, *map(str, paths)], ok=False)


def test_yamllint_values_and_argocd_files():
    # (The rule files are monitoring/'s, linted by its own tests.)
    paths = [CHART / "values.yaml", CHART / "Chart.yaml", *sorted(ARGOCD.glob("*.yaml"))]
    result = yamllint(paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_rendered_output(default_render, prod_render, tmp_path):
    paths = []
    for name, rendered in (("default", default_render), ("prod", prod_render)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(rendered.manifest)
        paths.append(path)
    result = yamllint(paths, rendered=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_is_not_lenient(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  name: fraud\n  name: fraud\n")
    assert yamllint([bad]).returncode != 0


# --- what the objects say -----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["default", "prod"])
def test_probes_hit_the_real_endpoints_on_the_container_port(which, default_render, prod_render):
    rendered = default_render if which == "default" else prod_render
    serve = container(rendered)
    (port,) = serve["ports"]
    assert port["name"] == "http" and port["containerPort"] == int(env_of(serve)["PORT"])
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        http = serve[probe]["httpGet"]
        assert http["path"] == path, probe
        assert http["port"] in ("http", port["containerPort"]), probe


def test_hpa_scales_the_statefulset_from_2_to_10_on_cpu(default_render, prod_render):
    for rendered, low in ((default_render, 2), (prod_render, 6)):
        hpa = rendered.one("HorizontalPodAutoscaler")
        statefulset = rendered.one("StatefulSet")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": statefulset["metadata"]["name"],
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (low, 10)
        # No memory target: the working set the HPA reads counts the audit log's page cache.
        resources = sorted(m["resource"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Resource")
        assert resources == ["cpu"]
        # The HPA owns the replica count: the chart must not pin it (ArgoCD would fight the HPA).
        assert "replicas" not in statefulset["spec"]
        # Utilisation is of the requests, so both must be requested.
        assert set(container(rendered)["resources"]["requests"]) >= {"cpu", "memory"}


def test_a_memory_target_is_added_when_set():
    hpa = Rendered({"autoscaling": {"targetMemoryUtilizationPercentage": 80}}).one("HorizontalPodAutoscaler")
    memory = [m["resource"] for m in hpa["spec"]["metrics"] if m["resource"]["name"] == "memory"]
    assert memory == [{"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}]


def test_without_autoscaling_the_replica_count_is_pinned():
    rendered = Rendered({"autoscaling": {"enabled": False}, "replicaCount": 3})
    assert rendered.all("HorizontalPodAutoscaler") == []
    assert rendered.one("StatefulSet")["spec"]["replicas"] == 3


def test_each_replica_owns_its_pvc_mounted_where_the_registry_lives(default_render, prod_render, prod_values):
    for rendered in (default_render, prod_render):
        statefulset = rendered.one("StatefulSet")
        (claim,) = statefulset["spec"]["volumeClaimTemplates"]
        volumes = {v["name"] for v in pod_spec(rendered)["volumes"]}
        assert claim["metadata"]["name"] not in volumes, "the registry volume must come from the claim template"
        for c in (container(rendered), init_container(rendered)):
            registry_dir = posixpath.dirname(env_of(c)["REGISTRY_DB"])
            mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
            assert registry_dir in mounts, f"{c['name']}: nothing mounted at {registry_dir}"
            assert mounts[registry_dir]["name"] == claim["metadata"]["name"]
            assert "subPath" not in mounts[registry_dir]
        assert set(claim["spec"]["accessModes"]) <= {"ReadWriteOnce", "ReadWriteOncePod"}
        assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        assert statefulset["spec"]["serviceName"] == headless_service(rendered)["metadata"]["name"]
    (claim,) = prod_render.one("StatefulSet")["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == prod_values["persistence"]["storageClassName"]
    assert claim["spec"]["resources"]["requests"]["storage"] == prod_values["persistence"]["size"]
    assert claim["spec"]["accessModes"] == prod_values["persistence"]["accessModes"]
    (default_claim,) = default_render.one("StatefulSet")["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in default_claim["spec"], "empty storageClassName means the cluster default"


def test_security_context_is_restrictive(default_render, prod_render):
    for rendered in (default_render, prod_render):
        spec = pod_spec(rendered)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001 and pod["fsGroup"] == 10001
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for c in (container(rendered), init_container(rendered)):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            # SQLite's temporary files go to a writable emptyDir on a read-only root.
            assert env_of(c)["SQLITE_TMPDIR"] == "/tmp"
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])
        (tmp,) = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert "emptyDir" in tmp


def headless_service(rendered: Rendered):
    (headless,) = [s for s in rendered.all("Service") if s["spec"].get("clusterIP") == "None"]
    return headless


def test_services(default_render):
    statefulset = default_render.one("StatefulSet")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    (cluster_ip,) = [s for s in default_render.all("Service") if s["spec"].get("clusterIP") != "None"]
    assert cluster_ip["spec"]["type"] == "ClusterIP"
    assert cluster_ip["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    for service in (cluster_ip, headless_service(default_render)):
        assert service["spec"]["selector"].items() <= pod_labels.items()
    pdb = default_render.one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1


def test_desired_version_configmap_is_watched_not_restarted(default_render, prod_render, prod_values):
    pinned = {"version": prod_values["model"]["version"], "sha256": prod_values["model"]["sha256"]}
    for rendered, pin in ((default_render, "v3"), (prod_render, pinned)):
        configmap = rendered.one("ConfigMap")
        assert json.loads(configmap["data"]["desired-versions.json"]) == {"fraud": pin}
        serve = container(rendered)
        desired_file = env_of(serve)["DESIRED_VERSIONS_FILE"]
        mounts = {m["mountPath"]: m for m in serve["volumeMounts"]}
        directory, key = posixpath.split(desired_file)
        assert key == "desired-versions.json"
        # A whole-volume mount (no subPath): the kubelet refreshes it when the ConfigMap changes.
        assert directory in mounts and "subPath" not in mounts[directory]
        (volume,) = [v for v in pod_spec(rendered)["volumes"] if v["name"] == mounts[directory]["name"]]
        assert volume["configMap"]["name"] == configmap["metadata"]["name"]
        annotations = rendered.one("StatefulSet")["spec"]["template"]["metadata"].get("annotations", {})
        assert not any("checksum" in key for key in annotations), "a checksum annotation would restart pods"


def test_desired_version_follows_the_values():
    rendered = Rendered({"model": {"name": "chargebacks", "version": "v12"}})
    assert json.loads(rendered.one("ConfigMap")["data"]["desired-versions.json"]) == {"chargebacks": "v12"}
    assert init_container(rendered)["args"][-2:] == ["--model", "chargebacks"]
    digest = hashlib.sha256(b"chargebacks v12").hexdigest()
    rendered = Rendered({"model": {"name": "chargebacks", "version": "v12", "sha256": digest}})
    assert json.loads(rendered.one("ConfigMap")["data"]["desired-versions.json"]) == {
        "chargebacks": {"version": "v12", "sha256": digest}
    }


@pytest.mark.parametrize("values_file", [PROD_VALUES, STAGING_VALUES], ids=["prod", "staging"])
def test_argocd_pins_the_digest_of_the_bundled_version(values_file):
    """Every replica registers models/bundle.txt in order, so the pinned vN is the Nth example:
    the digest beside it must be that example's artifact, or every replica would refuse it."""
    model = load_yaml(values_file)["model"]
    example = REPO / "models" / bundle_examples()[int(model["version"].lstrip("v")) - 1]
    artifact = example / json.loads((example / "meta.json").read_text())["artifact"]
    assert model["sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()


def test_containers_run_the_image_entrypoint_with_the_contracted_environment(prod_render, prod_values):
    init = init_container(prod_render)
    assert init["command"] == ["registry-cli"]
    assert init["args"] == ["bootstrap", "--models", "/opt/sentinel/models", "--model", "fraud"]
    assert env_of(init)["REGISTRY_DB"] == "/data/registry.db"
    serve = container(prod_render)
    assert serve["command"] == ["registry-cli"] and serve["args"] == ["serve"]
    env = env_of(serve)
    audit = prod_values["serve"]["audit"]
    assert env["HOST"] == "0.0.0.0" and env["PORT"] == "8080"
    assert env["REGISTRY_DB"] == "/data/registry.db" and env["LOG_FORMAT"] == "json"
    assert env["AUDIT_MODE"] == audit["mode"] and env["AUDIT_DURABILITY"] == audit["durability"]
    assert env["AUDIT_RETENTION_DAYS"] == str(audit["retentionDays"])
    assert env["DESIRED_VERSIONS_FILE"] == "/etc/sentinel/desired/desired-versions.json"
    assert env["DRAIN_SECONDS"] == str(prod_values["serve"].get("drainSeconds", 5))
    assert init["image"] == serve["image"] == f"{prod_values['image']['repository']}:{prod_values['image']['tag']}"


def test_drain_fits_in_the_termination_grace_period(default_render, prod_render):
    """SIGKILL comes terminationGracePeriodSeconds after the preStop hook starts: the preStop sleep
    and the drain must leave time for the in-flight requests and the audit queue."""
    for rendered in (default_render, prod_render):
        spec = pod_spec(rendered)
        serve = container(rendered)
        pre_stop = serve.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        drain = float(env_of(serve).get("DRAIN_SECONDS", "0"))
        assert drain > 0, "keep-alive clients would lose a request to the closing listener"
        assert pre_stop + drain + 10 <= spec["terminationGracePeriodSeconds"]
    zero = Rendered({"serve": {"drainSeconds": 0}})
    assert "DRAIN_SECONDS" not in env_of(container(zero))
    # A values file that lengthens the drain past the grace period is refused, not rendered.
    message = render_error({"serve": {"drainSeconds": 30}})
    assert "terminationGracePeriodSeconds (30) must be at least preStopSleepSeconds + serve.drainSeconds + 10 (45)" in message, message
    assert Rendered({"serve": {"drainSeconds": 30}, "terminationGracePeriodSeconds": 45}).one("StatefulSet")


def test_serving_container_records_no_actor_of_its_own(default_render):
    """An operator's `kubectl exec ... registry-cli promote` in the serving container must not be
    recorded as GitOps: the applier names itself; the shell's user is whoever runs the command."""
    assert "REGISTRY_ACTOR" not in env_of(container(default_render))
    assert env_of(init_container(default_render))["REGISTRY_ACTOR"] == "bootstrap"


def test_scale_down_at_once_is_kept():
    hpa = Rendered({"autoscaling": {"scaleDownStabilizationSeconds": 0}}).one("HorizontalPodAutoscaler")
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 0}}


def test_a_digest_pinned_tag_gives_a_valid_version_label(tmp_path):
    digest = "0.1.0@sha256:" + "a" * 64
    rendered = Rendered({"image": {"tag": digest}})
    assert container(rendered)["image"] == f"sentinel:{digest}"
    for obj in rendered.objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/version"] == "0.1.0"
    builtin = [obj for obj in rendered.objects if obj["kind"] in BUILTIN_KINDS]
    result = kubernetes_validate(write_objects(builtin, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_tag_defaults_to_app_version(default_render):
    app_version = load_yaml(CHART / "Chart.yaml")["appVersion"]
    assert container(default_render)["image"] == f"sentinel:{app_version}"
    assert "AUDIT_RETENTION_DAYS" not in env_of(container(default_render)), "0 keeps every audit row"


def test_resources_come_from_values(prod_render, prod_values):
    assert container(prod_render)["resources"] == prod_values["resources"]


def test_service_monitor_scrapes_the_api_service(prod_render):
    monitor = prod_render.one("ServiceMonitor")
    (cluster_ip,) = [s for s in prod_render.all("Service") if s["spec"].get("clusterIP") != "None"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= cluster_ip["metadata"]["labels"].items()
    assert not monitor["spec"]["selector"]["matchLabels"].items() <= headless_service(prod_render)["metadata"]["labels"].items(), (
        "the headless Service must not be scraped too (every target twice)"
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"


def test_pods_carry_what_a_pod_discovering_prometheus_keeps(default_render, prod_render):
    """monitoring/prometheus/prometheus.yml keeps pods labelled app.kubernetes.io/name=sentinel with
    the annotation prometheus.io/scrape "true", and scrapes their port named http."""
    template = default_render.one("StatefulSet")["spec"]["template"]
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "sentinel"
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(container(default_render)["ports"][0]["containerPort"])
    # With the ServiceMonitor (prod), the annotations are off: one scrape per target.
    prod_annotations = prod_render.one("StatefulSet")["spec"]["template"]["metadata"].get("annotations", {})
    assert "prometheus.io/scrape" not in prod_annotations


def test_monitoring_is_off_by_default(default_render):
    assert default_render.all("ServiceMonitor") == [] and default_render.all("PrometheusRule") == []


# --- the rules: monitoring/ is the source, the chart holds copies -------------------------------


def chart_rule_files() -> list[Path]:
    return sorted((CHART / "files").glob("*.yml"))


def monitoring_rule_files() -> list[Path]:
    """monitoring/rules/*.yml without the promtool unit tests (*.test.yml)."""
    return sorted(p for p in (REPO / "monitoring" / "rules").glob("*.yml") if not p.name.endswith(".test.yml"))


def test_chart_rules_are_copies_of_monitoring_rules():
    source = monitoring_rule_files()
    assert source, "monitoring/rules/*.yml holds no rule file"
    copies = chart_rule_files()
    assert [p.name for p in copies] == [p.name for p in source], "run scripts/sync-chart-rules.sh"
    for original, copied in zip(source, copies):
        assert copied.read_bytes() == original.read_bytes(), f"{copied} differs: run scripts/sync-chart-rules.sh"


def test_prometheus_rule_holds_every_group_of_the_rule_files(prod_render):
    expected = []
    for path in chart_rule_files():
        expected += load_yaml(path)["groups"]
    assert expected, "no rule groups"
    assert prod_render.one("PrometheusRule")["spec"]["groups"] == expected
