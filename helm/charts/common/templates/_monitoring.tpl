{{- define "switchyard.servicemonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
    {{- with .ctx.Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "switchyard.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .ctx.Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .ctx.Values.serviceMonitor.scrapeTimeout }}
{{- end -}}

{{/*
Only services marked public (ingest and gateway by default) accept connections from anywhere;
every other pod takes connections only from the peers in networkPolicy.allowFrom (e.g. the
ingress controller for the websocket-gateway) and the metrics scrapers in
networkPolicy.metricsFrom. No peers at all means no ingress. Egress is not restricted.
*/}}
{{- define "switchyard.networkpolicy" -}}
{{- $np := .ctx.Values.networkPolicy -}}
{{- $peers := concat ($np.allowFrom | default list) ($np.metricsFrom | default list) -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "switchyard.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  {{- if $np.public }}
  ingress:
    - ports:
        - port: http
          protocol: TCP
  {{- else if $peers }}
  ingress:
    - from:
        {{- toYaml $peers | nindent 8 }}
      ports:
        - port: http
          protocol: TCP
  {{- else }}
  ingress: []
  {{- end }}
{{- end -}}
