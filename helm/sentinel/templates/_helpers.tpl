{{/* Names and labels shared by every object of the chart. */}}

{{- define "sentinel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* The release's object prefix; short enough for "-headless" and PVC names. */}}
{{- define "sentinel.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sentinel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sentinel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sentinel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sentinel.labels" -}}
helm.sh/chart: {{ include "sentinel.chart" . }}
{{ include "sentinel.selectorLabels" . }}
app.kubernetes.io/version: {{ include "sentinel.versionLabel" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sentinel
{{- end }}

{{- define "sentinel.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The tag as a label value: a digest ("0.1.0@sha256:…") is not one (63 characters at most, no '@'
or ':'), so the part before it. */}}
{{- define "sentinel.versionLabel" -}}
{{- $tag := splitList "@" (include "sentinel.imageTag" .) | first | trunc 63 }}
{{- regexReplaceAll "[^A-Za-z0-9]+$" $tag "" }}
{{- end }}

{{- define "sentinel.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "sentinel.imageTag" .) }}
{{- end }}

{{/* The version every replica serves: a value the chart cannot guess. */}}
{{- define "sentinel.modelVersion" -}}
{{- required "model.version is required: the version every replica serves, e.g. v3 (registry-cli promote --gitops writes it)" .Values.model.version }}
{{- end }}

{{- define "sentinel.desiredConfigMap" -}}
{{- printf "%s-desired" (include "sentinel.fullname" .) }}
{{- end }}

{{- define "sentinel.headlessService" -}}
{{- printf "%s-headless" (include "sentinel.fullname" .) }}
{{- end }}

{{/* Where things live inside the pod; the image (Dockerfile) uses the same paths. */}}
{{- define "sentinel.dataDir" -}}/data{{- end }}
{{- define "sentinel.registryDB" -}}/data/registry.db{{- end }}
{{- define "sentinel.modelsDir" -}}/opt/sentinel/models{{- end }}
{{- define "sentinel.desiredDir" -}}/etc/sentinel/desired{{- end }}
{{- define "sentinel.desiredKey" -}}desired-versions.json{{- end }}
{{- define "sentinel.containerPort" -}}8080{{- end }}

{{/* The securityContext both containers run with. */}}
{{- define "sentinel.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment both containers share: the registry file and SQLite's temporary files. */}}
{{- define "sentinel.commonEnv" -}}
- name: REGISTRY_DB
  value: {{ include "sentinel.registryDB" . | quote }}
- name: SQLITE_TMPDIR
  value: /tmp
- name: LOG_FORMAT
  value: json
{{- with .Values.serve.logLevel }}
- name: LOG_LEVEL
  value: {{ . | quote }}
{{- end }}
{{- end }}
