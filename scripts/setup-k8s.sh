#!/usr/bin/env bash
# Runs Sentinel in a local Kubernetes cluster: creates (or reuses) a kind or minikube cluster,
# builds the image with Docker or Podman (scripts/build-image.sh), loads it into the cluster,
# installs the Helm chart (helm/sentinel), waits until every replica is ready, and port-forwards
# the service to http://127.0.0.1:8080 until Ctrl-C. Needs helm and kubectl, kind or minikube,
# docker or podman. The PowerShell twin for Windows is scripts/setup-k8s.ps1.
#
# Usage: scripts/setup-k8s.sh [--cluster kind|minikube] [--engine docker|podman] [--name NAME]
#            [--namespace NS] [--release NAME] [--values FILE] [--port PORT] [--no-port-forward]
# Each option has an environment twin: CLUSTER, ENGINE, CLUSTER_NAME, NAMESPACE, RELEASE,
# VALUES_FILE, LOCAL_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=${CLUSTER:-}
engine=${ENGINE:-}
cluster_name=${CLUSTER_NAME:-sentinel}
namespace=${NAMESPACE:-sentinel}
release=${RELEASE:-sentinel}
values_file=${VALUES_FILE:-}
local_port=${LOCAL_PORT:-8080}
port_forward=1
# One name for both engines: Podman calls a local image localhost/NAME anyway.
image_repository=localhost/sentinel
image_tag=dev

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "setup-k8s.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed ($2)"; }
step() { printf '\n==> %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
        --cluster) cluster=${2:?--cluster needs kind or minikube}; shift 2 ;;
        --engine) engine=${2:?--engine needs docker or podman}; shift 2 ;;
        --name) cluster_name=${2:?--name needs a cluster name}; shift 2 ;;
        --namespace) namespace=${2:?--namespace needs a name}; shift 2 ;;
        --release) release=${2:?--release needs a name}; shift 2 ;;
        --values) values_file=${2:?--values needs a file}; shift 2 ;;
        --port) local_port=${2:?--port needs a port}; shift 2 ;;
        --no-port-forward) port_forward=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

need helm "https://helm.sh/docs/intro/install/"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
if [ -z "$engine" ]; then
    if command -v docker >/dev/null 2>&1; then engine=docker
    elif command -v podman >/dev/null 2>&1; then engine=podman
    else die "neither docker nor podman is installed"; fi
fi
case $engine in docker | podman) need "$engine" "the container engine" ;; *) die "--engine must be docker or podman, not $engine" ;; esac
if [ -z "$cluster" ]; then
    if command -v kind >/dev/null 2>&1; then cluster=kind
    elif command -v minikube >/dev/null 2>&1; then cluster=minikube
    else die "neither kind nor minikube is installed"; fi
fi
case $cluster in kind | minikube) need "$cluster" "the local cluster" ;; *) die "--cluster must be kind or minikube, not $cluster" ;; esac
if [ -n "$values_file" ] && [ ! -f "$values_file" ]; then die "no values file $values_file"; fi

# The chart's object names (helm/sentinel/templates/_helpers.tpl: sentinel.fullname).
case $release in *sentinel*) fullname=$release ;; *) fullname=$release-sentinel ;; esac
fullname=${fullname:0:40}
fullname=${fullname%-}

step "Cluster: $cluster '$cluster_name' ($engine)"
case $cluster in
    kind)
        if [ "$engine" = podman ]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi
        if ! kind get clusters 2>/dev/null | grep -qx "$cluster_name"; then
            kind create cluster --name "$cluster_name" --wait 120s
        fi
        context=kind-$cluster_name
        ;;
    minikube)
        if ! minikube status --profile "$cluster_name" >/dev/null 2>&1; then
            minikube start --profile "$cluster_name" --driver "$engine"
        fi
        # The HPA scales on CPU (and memory, if a target is set), which metrics-server measures.
        minikube addons enable metrics-server --profile "$cluster_name"
        context=$cluster_name
        ;;
esac

step "Image: $image_repository:$image_tag"
ENGINE=$engine scripts/build-image.sh "$image_repository:$image_tag"
archive=$(mktemp "${TMPDIR:-/tmp}/sentinel-image.XXXXXX")
trap 'rm -f "$archive"' EXIT
"$engine" save --output "$archive" "$image_repository:$image_tag"
case $cluster in
    kind) kind load image-archive "$archive" --name "$cluster_name" ;;
    minikube) minikube image load "$archive" --profile "$cluster_name" ;;
esac

step "Chart: release $release in namespace $namespace"
helm_args=(upgrade --install "$release" helm/sentinel
    --kube-context "$context" --namespace "$namespace" --create-namespace
    --set "image.repository=$image_repository" --set "image.tag=$image_tag" --set image.pullPolicy=Never
    --wait --timeout 10m)
if [ -n "$values_file" ]; then helm_args+=(--values "$values_file"); fi
# Staging's and production's values turn on a ServiceMonitor (and production a PrometheusRule),
# which a cluster without the Prometheus Operator's CRDs refuses: left out there.
if ! kubectl --context "$context" get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1; then
    step "kubectl finds no ServiceMonitor CRD (no Prometheus Operator, or no access to CRDs): no ServiceMonitor or PrometheusRule"
    helm_args+=(--set metrics.serviceMonitor.enabled=false --set metrics.prometheusRule.enabled=false)
fi
helm "${helm_args[@]}"
kubectl --context "$context" --namespace "$namespace" rollout status "statefulset/$fullname" --timeout 10m
kubectl --context "$context" --namespace "$namespace" get pods,pvc,svc,hpa -l "app.kubernetes.io/instance=$release"
if [ "$cluster" = kind ]; then
    echo "note: kind has no metrics-server; the HPA holds its minimum until you install one." >&2
fi

if [ "$port_forward" = 0 ]; then
    echo "Ready. Reach it with: kubectl --context $context -n $namespace port-forward service/$fullname $local_port:80"
    exit 0
fi
step "Serving on http://127.0.0.1:$local_port (Ctrl-C stops the port-forward; the cluster keeps running)"
cat >&2 <<EOF
  curl http://127.0.0.1:$local_port/models
  curl http://127.0.0.1:$local_port/metrics
  curl -H 'content-type: application/json' \\
       -d "{\"features\": \$(head -n 1 models/fraud-xgboost/golden.jsonl | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["features"]))')}" \\
       http://127.0.0.1:$local_port/predict
EOF
exec kubectl --context "$context" --namespace "$namespace" port-forward "service/$fullname" "$local_port:80"
