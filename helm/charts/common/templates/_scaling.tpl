{{- define "switchyard.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
spec:
  {{- if .ctx.Values.podDisruptionBudget.minAvailable }}
  minAvailable: {{ .ctx.Values.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .ctx.Values.podDisruptionBudget.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "switchyard.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "switchyard.hpa" -}}
{{- $a := .ctx.Values.autoscaling -}}
{{- if lt (int $a.maxReplicas) (int $a.minReplicas) -}}
{{- fail (printf "autoscaling.maxReplicas (%d) is below autoscaling.minReplicas (%d)" (int $a.maxReplicas) (int $a.minReplicas)) -}}
{{- end -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "switchyard.fullname" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: {{ $a.scaleDownStabilizationSeconds }}
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
{{- end -}}

{{/*
KEDA ScaledObject on consumer-group lag (Kafka only). KEDA then owns the Deployment's replica
count (it creates its own HorizontalPodAutoscaler), so the chart's HPA is not rendered.
With allowIdleConsumers false KEDA never scales past the topic's partition count: replicas
beyond it would sit idle.
*/}}
{{- define "switchyard.scaledobject" -}}
{{- $k := .ctx.Values.keda -}}
{{- $config := fromYaml (include "switchyard.config" .) -}}
{{- $backend := (($config.bus | default dict).backend | default "kafka") -}}
{{- if ne $backend "kafka" -}}
{{- fail (printf "keda.enabled needs config.bus.backend kafka (it scales on Kafka consumer-group lag), not %q" $backend) -}}
{{- end -}}
{{- $brokers := include "switchyard.kafkaBrokers" . -}}
{{- if not $brokers -}}
{{- fail "keda.enabled needs config.bus.kafka.brokers (or global.config.bus.kafka.brokers): KEDA reads the lag from the brokers" -}}
{{- end -}}
{{- $groupPrefix := include "switchyard.groupPrefix" . -}}
{{- $topicPrefix := include "switchyard.topicPrefix" . -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ include "switchyard.fullname" . }}
  minReplicaCount: {{ $k.minReplicas }}
  maxReplicaCount: {{ $k.maxReplicas }}
  pollingInterval: {{ $k.pollingInterval }}
  cooldownPeriod: {{ $k.cooldownPeriod }}
  triggers:
    {{- range .c.topics }}
    - type: kafka
      metadata:
        bootstrapServers: {{ $brokers | quote }}
        consumerGroup: {{ printf "%s%s" $groupPrefix $.c.group | quote }}
        topic: {{ printf "%s.%s" $topicPrefix . | quote }}
        lagThreshold: {{ $k.lagThreshold | toString | quote }}
        activationLagThreshold: {{ $k.activationLagThreshold | toString | quote }}
        offsetResetPolicy: earliest
        allowIdleConsumers: "false"
      {{- with $k.authenticationRef }}
      authenticationRef:
        name: {{ . }}
      {{- end }}
    {{- end }}
{{- end -}}
