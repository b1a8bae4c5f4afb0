<#
.SYNOPSIS
Runs Sentinel in a local Kubernetes cluster on Windows (or anywhere PowerShell 7 runs), the twin
of scripts/setup-k8s.sh.

.DESCRIPTION
Creates (or reuses) a kind or minikube cluster, builds the image with Podman (or Docker), loads
it into the cluster, installs the Helm chart (helm/sentinel), waits until every replica is ready,
and port-forwards the service to http://127.0.0.1:8080 until Ctrl-C. Needs helm and kubectl,
kind or minikube, podman or docker on PATH. With Podman, run `podman machine init` and
`podman machine start` first (a rootful machine for kind: `podman machine set --rootful`).

.EXAMPLE
pwsh scripts/setup-k8s.ps1
pwsh scripts/setup-k8s.ps1 -Cluster minikube -Engine podman -NoPortForward
#>
[CmdletBinding()]
param(
    [ValidateSet('', 'kind', 'minikube')] [string] $Cluster = '',
    [ValidateSet('', 'podman', 'docker')] [string] $Engine = '',
    [string] $Name = 'sentinel',
    [string] $Namespace = 'sentinel',
    [string] $Release = 'sentinel',
    [string] $Values = '',
    [int] $Port = 8080,
    [switch] $NoPortForward
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$repo = Split-Path -Parent $PSScriptRoot
Set-Location $repo
# One name for both engines: Podman calls a local image localhost/NAME anyway.
$imageRepository = 'localhost/sentinel'
$imageTag = 'dev'
$image = "${imageRepository}:${imageTag}"

function Test-Command([string] $command) { [bool](Get-Command $command -ErrorAction SilentlyContinue) }
function Assert-Command([string] $command, [string] $what) {
    if (-not (Test-Command $command)) { throw "setup-k8s.ps1: $command is not installed ($what)" }
}
# Runs a native command, echoing it, and stops the script when it fails. A plain function (no
# param block), so that arguments such as --name reach the command instead of PowerShell's binder.
function Invoke-Native {
    $command = $args[0]
    $arguments = @($args | Select-Object -Skip 1)
    Write-Host "+ $command $($arguments -join ' ')" -ForegroundColor DarkGray
    & $command @arguments
    if ($LASTEXITCODE -ne 0) { throw "setup-k8s.ps1: '$command $($arguments -join ' ')' failed (exit $LASTEXITCODE)" }
}
function Write-Step([string] $text) { Write-Host "`n==> $text" -ForegroundColor Cyan }

Assert-Command helm 'https://helm.sh/docs/intro/install/'
Assert-Command kubectl 'https://kubernetes.io/docs/tasks/tools/'
if (-not $Engine) {
    if (Test-Command podman) { $Engine = 'podman' }
    elseif (Test-Command docker) { $Engine = 'docker' }
    else { throw 'setup-k8s.ps1: neither podman nor docker is installed' }
}
Assert-Command $Engine 'the container engine'
if (-not $Cluster) {
    if (Test-Command kind) { $Cluster = 'kind' }
    elseif (Test-Command minikube) { $Cluster = 'minikube' }
    else { throw 'setup-k8s.ps1: neither kind nor minikube is installed' }
}
Assert-Command $Cluster 'the local cluster'
if ($Values -and -not (Test-Path -LiteralPath $Values -PathType Leaf)) { throw "setup-k8s.ps1: no values file $Values" }

# The chart's object names (helm/sentinel/templates/_helpers.tpl: sentinel.fullname).
$fullname = if ($Release -like '*sentinel*') { $Release } else { "$Release-sentinel" }
if ($fullname.Length -gt 40) { $fullname = $fullname.Substring(0, 40) }
$fullname = $fullname -replace '-$', ''

Write-Step "Cluster: $Cluster '$Name' ($Engine)"
if ($Cluster -eq 'kind') {
    if ($Engine -eq 'podman') { $env:KIND_EXPERIMENTAL_PROVIDER = 'podman' }
    $clusters = @(& kind get clusters 2>$null)
    if ($clusters -notcontains $Name) { Invoke-Native kind create cluster --name $Name --wait 120s }
    $context = "kind-$Name"
} else {
    & minikube status --profile $Name *> $null
    if ($LASTEXITCODE -ne 0) { Invoke-Native minikube start --profile $Name --driver $Engine }
    # The HPA scales on CPU (and memory, if a target is set), which metrics-server measures.
    Invoke-Native minikube addons enable metrics-server --profile $Name
    $context = $Name
}

Write-Step "Image: $image"
# scripts/build-image.sh's command, without needing bash on Windows.
# Podman writes OCI images by default, which drop HEALTHCHECK; the docker format keeps it.
$formatArgs = @()
if ($Engine -eq 'podman') { $formatArgs = @('--format', 'docker') }
Invoke-Native $Engine build @formatArgs --tag $image --file Dockerfile .
$archive = Join-Path ([System.IO.Path]::GetTempPath()) "sentinel-image-$PID.tar"
try {
    Invoke-Native $Engine save --output $archive $image
    if ($Cluster -eq 'kind') { Invoke-Native kind load image-archive $archive --name $Name }
    else { Invoke-Native minikube image load $archive --profile $Name }
} finally {
    Remove-Item -LiteralPath $archive -ErrorAction SilentlyContinue
}

Write-Step "Chart: release $Release in namespace $Namespace"
$helmArgs = @('upgrade', '--install', $Release, 'helm/sentinel',
    '--kube-context', $context, '--namespace', $Namespace, '--create-namespace',
    '--set', "image.repository=$imageRepository", '--set', "image.tag=$imageTag", '--set', 'image.pullPolicy=Never',
    '--wait', '--timeout', '10m')
if ($Values) { $helmArgs += @('--values', $Values) }
# Staging's and production's values turn on a ServiceMonitor (and production a PrometheusRule),
# which a cluster without the Prometheus Operator's CRDs refuses: left out there.
& kubectl --context $context get crd servicemonitors.monitoring.coreos.com *> $null
if ($LASTEXITCODE -ne 0) {
    Write-Step 'kubectl finds no ServiceMonitor CRD (no Prometheus Operator, or no access to CRDs): no ServiceMonitor or PrometheusRule'
    $helmArgs += @('--set', 'metrics.serviceMonitor.enabled=false', '--set', 'metrics.prometheusRule.enabled=false')
}
Invoke-Native helm @helmArgs
Invoke-Native kubectl --context $context --namespace $Namespace rollout status "statefulset/$fullname" --timeout 10m
Invoke-Native kubectl --context $context --namespace $Namespace get pods,pvc,svc,hpa -l "app.kubernetes.io/instance=$Release"
if ($Cluster -eq 'kind') { Write-Warning 'kind has no metrics-server; the HPA holds its minimum until you install one.' }

if ($NoPortForward) {
    Write-Host "Ready. Reach it with: kubectl --context $context -n $Namespace port-forward service/$fullname ${Port}:80"
    return
}
Write-Step "Serving on http://127.0.0.1:$Port (Ctrl-C stops the port-forward; the cluster keeps running)"
Write-Host "  Invoke-RestMethod http://127.0.0.1:$Port/models"
Write-Host "  Invoke-WebRequest http://127.0.0.1:$Port/metrics | Select-Object -ExpandProperty Content"
Write-Host ('  $row = (Get-Content models/fraud-xgboost/golden.jsonl -TotalCount 1 | ConvertFrom-Json).features; ' +
    "Invoke-RestMethod -Method Post -ContentType application/json -Body (@{features=`$row} | ConvertTo-Json) http://127.0.0.1:$Port/predict")
& kubectl --context $context --namespace $Namespace port-forward "service/$fullname" "${Port}:80"
