{{/*
Every manifest of one service, separated by "---". A service chart's only template is

  {{ include "switchyard.all" (dict "ctx" . "c" (dict "name" "processor" ...)) }}
*/}}
{{- define "switchyard.all" -}}
{{- $v := .ctx.Values -}}
{{- $keda := and (hasKey $v "keda") $v.keda.enabled -}}
{{ include "switchyard.configmap" . }}
---
{{ include "switchyard.deployment" . }}
---
{{ include "switchyard.service" . }}
---
{{ include "switchyard.pdb" . }}
{{- if $v.serviceAccount.create }}
---
{{ include "switchyard.serviceaccount" . }}
{{- end }}
{{- if $keda }}
{{- if not .c.topics }}
{{- fail (printf "keda: %s has no consumer-group lag to scale on" .c.name) }}
{{- end }}
---
{{ include "switchyard.scaledobject" . }}
{{- else if $v.autoscaling.enabled }}
---
{{ include "switchyard.hpa" . }}
{{- end }}
{{- if and (hasKey $v "ingress") $v.ingress.enabled }}
---
{{ include "switchyard.ingress" . }}
{{- end }}
{{- if $v.serviceMonitor.enabled }}
---
{{ include "switchyard.servicemonitor" . }}
{{- end }}
{{- if $v.networkPolicy.enabled }}
---
{{ include "switchyard.networkpolicy" . }}
{{- end }}
{{- end -}}
