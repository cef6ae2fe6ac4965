{{- define "orchestra.fullname" -}}
{{- printf "%s-orchestra" .Release.Name | trunc 50 | trimSuffix "-" -}}
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

{{- define "orchestra.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "orchestra.fullname" .) -}}
{{- else -}}
{{- required "redis.externalUrl is required when redis.enabled is false" .Values.redis.externalUrl -}}
{{- end -}}
{{- end -}}

{{/* The environment both workloads share: Redis, the data folder, and the keys (from the Secret). */}}
{{- define "orchestra.env" -}}
- name: REDIS_URL
  value: {{ include "orchestra.redisUrl" . | quote }}
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
