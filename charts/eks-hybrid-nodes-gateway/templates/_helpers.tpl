{{/* Chart name, at most 63 characters. */}}
{{- define "eks-hybrid-nodes-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: the release name, with the chart name unless it already contains it. */}}
{{- define "eks-hybrid-nodes-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "eks-hybrid-nodes-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "eks-hybrid-nodes-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eks-hybrid-nodes-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "eks-hybrid-nodes-gateway.labels" -}}
helm.sh/chart: {{ include "eks-hybrid-nodes-gateway.chart" . }}
{{ include "eks-hybrid-nodes-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: gateway
app.kubernetes.io/part-of: eks-hybrid-nodes-gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "eks-hybrid-nodes-gateway.serviceAccountName" -}}
{{- include "eks-hybrid-nodes-gateway.fullname" . }}
{{- end }}

{{/* Namespace of the namespaced objects: .Values.namespace, else the release namespace. */}}
{{- define "eks-hybrid-nodes-gateway.namespace" -}}
{{- default .Release.Namespace .Values.namespace }}
{{- end }}

{{/* Image reference: repository@digest, else repository:tag (tag defaults to appVersion; toString keeps a numeric --set tag intact). */}}
{{- define "eks-hybrid-nodes-gateway.image" -}}
{{- $repo := required (printf "image.repository is not set. Build this project's image and push it to your registry, then name it: docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/eks-hybrid-gateway:%s --push . && helm install ... --set image.repository=<registry>/eks-hybrid-gateway" .Chart.AppVersion) .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (toString (default .Chart.AppVersion .Values.image.tag)) }}
{{- end }}
{{- end }}

{{/* A list value given as a comma-separated string or a YAML list, as one comma-separated string without spaces. */}}
{{- define "eks-hybrid-nodes-gateway.csv" -}}
{{- if kindIs "slice" . }}
{{- join "," . | nospace }}
{{- else }}
{{- toString . | nospace }}
{{- end }}
{{- end }}

{{/* A Go duration (3s, 1m30s, 1500ms) in whole milliseconds, rounded up. */}}
{{- define "eks-hybrid-nodes-gateway.durationMs" -}}
{{- $factors := dict "ns" 0.000001 "us" 0.001 "µs" 0.001 "ms" 1.0 "s" 1000.0 "m" 60000.0 "h" 3600000.0 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" (toString .) -1 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" . -}}
{{- $unit := trimPrefix $number . -}}
{{- $total = addf $total (mulf (float64 $number) (get $factors $unit)) -}}
{{- end -}}
{{- ceil $total | int64 -}}
{{- end }}

{{/* Milliseconds as a Prometheus duration: whole seconds as "6s", else "6500ms". */}}
{{- define "eks-hybrid-nodes-gateway.promDuration" -}}
{{- $ms := int64 . -}}
{{- if eq (mod $ms 1000) 0 -}}
{{- printf "%ds" (div $ms 1000) -}}
{{- else -}}
{{- printf "%dms" $ms -}}
{{- end -}}
{{- end }}

{{/* The cleanup hook's objects (uninstall): <fullname>-cleanup, at most 63 characters (the Job's name is a label value of its pods). */}}
{{- define "eks-hybrid-nodes-gateway.cleanupName" -}}
{{- printf "%s-cleanup" (include "eks-hybrid-nodes-gateway.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/* Labels of the hook's objects and pod: never the gateway's selector labels (the PDB, the PodMonitor and the anti-affinity select those). */}}
{{- define "eks-hybrid-nodes-gateway.cleanupLabels" -}}
helm.sh/chart: {{ include "eks-hybrid-nodes-gateway.chart" . }}
app.kubernetes.io/name: {{ printf "%s-cleanup" (include "eks-hybrid-nodes-gateway.name" . | trunc 55 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: cleanup
app.kubernetes.io/part-of: eks-hybrid-nodes-gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Hook annotations: pre-delete, in `weight` order, replaced on a retried uninstall, deleted once the hook succeeded (kept for a look when it failed). */}}
{{- define "eks-hybrid-nodes-gateway.cleanupHook" -}}
helm.sh/hook: pre-delete
helm.sh/hook-weight: {{ . | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}
