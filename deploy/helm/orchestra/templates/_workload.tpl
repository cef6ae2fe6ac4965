{{/* A stateless workload (the gateway or the server): Deployment, Service, HorizontalPodAutoscaler and
PodDisruptionBudget. Called with (dict "root" $ "component" NAME "values" VALUES "args" LIST "ready" PATH "live" PATH
"hostsEnv" VARIABLE): the variable holding the Host names the process accepts (DNS-rebinding protection): its Service
name, its pod's IP (what the kubelet's probes and Prometheus send) and the values' allowedHosts (an Ingress host). */}}
{{- define "orchestra.workload" -}}
{{- $root := .root -}}
{{- $name := printf "%s-%s" (include "orchestra.fullname" $root) .component -}}
{{- $v := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "orchestra.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels: {{- include "orchestra.selector" (dict "root" $root "component" .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "orchestra.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    spec:
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- include "orchestra.podSecurity" $root | nindent 6 }}
      containers:
        - name: {{ .component }}
          image: {{ include "orchestra.image" (dict "root" $root "name" $v.image) }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: {{- toYaml .args | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ $v.port }}
          env:
            {{- include "orchestra.env" $root | nindent 12 }}
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            - name: {{ .hostsEnv }}
              value: {{ concat (list $name (printf "%s:%d" $name (int $v.port)) "$(POD_IP)" "[$(POD_IP)]") $v.allowedHosts | toJson | quote }}
            {{- range $key, $value := $v.extraEnv }}
            - name: {{ $key }}
              value: {{ $value | quote }}
            {{- end }}
          {{- include "orchestra.envFrom" $root | nindent 10 }}
          readinessProbe:
            httpGet: {path: {{ .ready }}, port: http}
            periodSeconds: 5
          livenessProbe:
            httpGet: {path: {{ .live }}, port: http}
            initialDelaySeconds: 20
            periodSeconds: 10
            failureThreshold: 6
          resources: {{- toYaml $v.resources | nindent 12 }}
          {{- include "orchestra.containerSecurity" $root | nindent 10 }}
          volumeMounts:
            - {name: config, mountPath: /etc/orchestra, readOnly: true}
            - {name: data, mountPath: /var/lib/orchestra}
      volumes:
        - name: config
          configMap: {name: {{ include "orchestra.fullname" $root }}-config}
        - name: data
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "orchestra.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    orchestra.io/job: orchestra-{{ .component }}
spec:
  selector: {{- include "orchestra.selector" (dict "root" $root "component" .component) | nindent 4 }}
  {{- if eq .component "gateway" }}
  # A client's requests stay on one gateway pod: held calls, browser sessions and resumable streams live in the
  # process that serves them (sessions themselves are shared in Redis).
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}   # a quiet client moves on after 10 minutes
  {{- end }}
  ports:
    - name: http
      port: {{ $v.port }}
      targetPort: http
{{- if $v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $name }}
  labels: {{- include "orchestra.labels" $root | nindent 4 }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ $name }}}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: {{ $v.autoscaling.targetCPU }}}}
    - type: Resource
      resource: {name: memory, target: {type: Utilization, averageUtilization: {{ $v.autoscaling.targetMemory }}}}
{{- end }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  labels: {{- include "orchestra.labels" $root | nindent 4 }}
spec:
  minAvailable: {{ $v.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels: {{- include "orchestra.selector" (dict "root" $root "component" .component) | nindent 6 }}
{{- end -}}
