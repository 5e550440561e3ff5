{{- define "switchyard.deployment" -}}
{{- $v := .ctx.Values -}}
{{- $drain := include "switchyard.drainSecs" . | int -}}
{{- if ge $drain (int $v.terminationGracePeriodSeconds) -}}
{{- fail (printf "config.shutdown.drain_timeout_secs (%d) must be below terminationGracePeriodSeconds (%d), or the pod is killed before it has drained" $drain (int $v.terminationGracePeriodSeconds)) -}}
{{- end -}}
{{- $keda := and (hasKey $v "keda") $v.keda.enabled -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
spec:
  {{- if not (or $v.autoscaling.enabled $keda) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 25%
  selector:
    matchLabels:
      {{- include "switchyard.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "switchyard.labels" . | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "switchyard.configmap" . | sha256sum }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .c.port | quote }}
        prometheus.io/path: /metrics
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "switchyard.serviceAccountName" . }}
      automountServiceAccountToken: false
      {{- $global := fromYaml (include "switchyard.global" .) }}
      {{- with ($v.imagePullSecrets | default $global.imagePullSecrets) }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .c.name }}
          image: {{ include "switchyard.image" . | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .c.port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "switchyard.fullname" . }}
          {{- with (include "switchyard.env" . | trim) }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            failureThreshold: {{ $v.probes.startupFailureThreshold }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $v.configFile }}
            - name: config
              mountPath: /etc/switchyard
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if $v.configFile }}
        - name: config
          configMap:
            name: {{ include "switchyard.fullname" . }}
            items:
              - key: switchyard.toml
                path: switchyard.toml
        {{- end }}
      {{- if $v.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: {{ $v.topologySpread.topologyKey }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "switchyard.selectorLabels" . | nindent 14 }}
          # Spread each rollout's new pods too, not only the old and new together.
          matchLabelKeys:
            - pod-template-hash
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}


{{/* The container's env: per-pod values, Secret references, telemetry, extraEnv. */}}
{{- define "switchyard.env" -}}
{{- $v := .ctx.Values -}}
{{- $global := fromYaml (include "switchyard.global" .) -}}
{{- if $v.configFile }}
- name: SWITCHYARD_CONFIG
  value: /etc/switchyard/switchyard.toml
{{- end }}
{{- if .c.podNameEnv }}
- name: {{ .c.podNameEnv }}
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
{{- range $name, $ref := $v.secretEnv }}
{{- if $ref }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName }}
      key: {{ $ref.key }}
      {{- if $ref.optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- $otlp := ($v.otel | default dict).endpoint | default (($global.otel | default dict).endpoint) }}
{{- if $otlp }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otlp | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=switchyard,k8s.namespace.name=%s" .ctx.Release.Namespace | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
