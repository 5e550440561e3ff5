{{- define "switchyard.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
data:
  {{- with (include "switchyard.configEnv" . | trim) }}
  {{- . | nindent 2 }}
  {{- end }}
{{- if .ctx.Values.configFile }}
  switchyard.toml: |
    {{- .ctx.Values.configFile | nindent 4 }}
{{- end }}
{{- end -}}
