{{/* Chart name, truncated to the 63 characters that Kubernetes names allow. */}}
{{- define "image-retrieval.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name. */}}
{{- define "image-retrieval.fullname" -}}
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

{{- define "image-retrieval.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "image-retrieval.selectorLabels" -}}
app.kubernetes.io/name: {{ include "image-retrieval.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "image-retrieval.labels" -}}
helm.sh/chart: {{ include "image-retrieval.chart" . }}
{{ include "image-retrieval.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: image-retrieval
{{- end }}

{{- define "image-retrieval.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "image-retrieval.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "image-retrieval.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "image-retrieval.dataClaimName" -}}
{{- default (printf "%s-data" (include "image-retrieval.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{- define "image-retrieval.modelClaimName" -}}
{{- default (printf "%s-models" (include "image-retrieval.fullname" .)) .Values.modelCache.existingClaim }}
{{- end }}

{{/* Env vars read from the existing Secret (each optional). */}}
{{- define "image-retrieval.secretEnv" -}}
{{- if .Values.existingSecret }}
{{- $secret := .Values.existingSecret }}
{{- with .Values.secretKeys.pineconeApiKey }}
- name: ImageRetrieval__VectorStore__Pinecone__ApiKey
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      optional: true
{{- end }}
{{- with .Values.secretKeys.qdrantApiKey }}
- name: ImageRetrieval__VectorStore__Qdrant__ApiKey
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      optional: true
{{- end }}
{{- with .Values.secretKeys.hfToken }}
- name: HF_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      optional: true
{{- end }}
{{- end }}
{{- if .Values.auth.enabled }}
{{- $secret := required "auth.enabled needs existingSecret: the Secret that holds the API keys" .Values.existingSecret }}
{{- if not .Values.secretKeys.apiKeys }}
{{- fail "auth.enabled needs at least one key name in secretKeys.apiKeys" }}
{{- end }}
{{- range $i, $key := .Values.secretKeys.apiKeys }}
- name: ImageRetrieval__Auth__ApiKeys__{{ $i }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: false
{{- end }}
{{- end }}
{{- end }}

{{/* The /tmp emptyDir: explicit, or the buffered-body room plus 256 MiB. */}}
{{- define "image-retrieval.tmpSizeLimit" -}}
{{- if .Values.tmp.sizeLimit -}}
{{ .Values.tmp.sizeLimit }}
{{- else -}}
{{ add (int64 .Values.config.server.maxBufferedBodyBytes) 268435456 }}
{{- end -}}
{{- end }}

{{/* With AllowedHosts set, probes must name an allowed host (kubelet sends the pod IP). */}}
{{- define "image-retrieval.probeHeaders" -}}
{{- $hosts := .Values.config.allowedHosts | default "*" -}}
{{- if ne $hosts "*" }}
httpHeaders:
  - name: Host
    value: {{ first (splitList ";" $hosts) | replace "*." "probe." | quote }}
{{- end }}
{{- end }}

{{/* Volume mounts shared by the app and the init container. */}}
{{- define "image-retrieval.volumeMounts" -}}
- name: data
  mountPath: {{ .Values.config.dataPath }}
- name: tmp
  mountPath: /tmp
{{- if ne .Values.modelCache.type "image" }}
- name: models
  mountPath: {{ .Values.config.embedding.cacheDirectory }}
{{- end }}
{{- end }}
