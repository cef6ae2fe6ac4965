{{- /* <release>-orchestra, or the release's own name when it already says orchestra (release "orchestra" makes
orchestra-gateway, not orchestra-orchestra-gateway). */ -}}
{{- define "orchestra.fullname" -}}
{{- $name := ternary .Release.Name (printf "%s-orchestra" .Release.Name) (contains "orchestra" .Release.Name) -}}
{{- $name | trunc 39 | trimSuffix "-" -}}
{{- end -}}

{{- define "orchestra.labels" -}}
app.kubernetes.io/name: orchestra
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "orchestra.selector" -}}
app.kubernetes.io/name: orchestra
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "orchestra.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name (.root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{- define "orchestra.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-keys" (include "orchestra.fullname" .)) -}}
{{- end -}}

{{- /* REDIS_URL as a plain value: the chart's Redis, or an external one without a password. An external URL with a
password belongs in the keys' Secret (as REDIS_URL), which reaches both workloads through envFrom. */ -}}
{{- define "orchestra.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "orchestra.fullname" .) -}}
{{- else if .Values.redis.externalUrl -}}
{{- if or (contains "@" .Values.redis.externalUrl) (contains "password=" (lower .Values.redis.externalUrl)) -}}
{{- fail "redis.externalUrl holds credentials, which would be readable in the Deployments: put REDIS_URL in the keys' Secret (existingSecret or secrets) and leave externalUrl empty" -}}
{{- end -}}
{{- .Values.redis.externalUrl -}}
{{- else if not (or .Values.existingSecret (hasKey .Values.secrets "REDIS_URL")) -}}
{{- fail "redis.enabled is false: set redis.externalUrl, or REDIS_URL in the keys' Secret (existingSecret or secrets)" -}}
{{- end -}}
{{- end -}}

{{/* The environment both workloads share: Redis, the data folder, and the keys (from the Secret). */}}
{{- define "orchestra.env" -}}
{{- with include "orchestra.redisUrl" . }}
- name: REDIS_URL
  value: {{ . | quote }}
{{- end }}
- name: ORCHESTRA_DATA_DIR
  value: /var/lib/orchestra
- name: ORCHESTRA_CONFIG
  value: /etc/orchestra/orchestra.yaml
{{- end -}}

{{- define "orchestra.envFrom" -}}
{{- if or .Values.existingSecret .Values.secrets }}
envFrom:
  - secretRef:
      name: {{ include "orchestra.secretName" . }}
{{- end }}
{{- end -}}

{{- define "orchestra.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "orchestra.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  capabilities: {drop: [ALL]}
{{- end -}}
