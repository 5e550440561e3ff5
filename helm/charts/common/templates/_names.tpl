{{/*
Names and labels. Every template here takes a dict:
  ctx  the chart's root context (.)
  c    the component: what the service chart states about its binary, fixed per chart:
       name, binary, port, http (serves an API to clients), groups (consumer groups it reads
       in, unprefixed), topics (topics those groups read, without the prefix),
       podNameEnv (an env var set to the pod's name, or ""), configSections.
*/}}

{{- define "switchyard.name" -}}
{{- default .c.name .ctx.Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "switchyard.fullname" -}}
{{- if .ctx.Values.fullnameOverride -}}
{{- .ctx.Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .c.name .ctx.Values.nameOverride -}}
{{- if contains $name .ctx.Release.Name -}}
{{- .ctx.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .ctx.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" . }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "switchyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/component: {{ .c.name }}
app.kubernetes.io/part-of: switchyard
app.kubernetes.io/version: {{ include "switchyard.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "switchyard.serviceAccountName" -}}
{{- if .ctx.Values.serviceAccount.create -}}
{{- default (include "switchyard.fullname" .) .ctx.Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .ctx.Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Values shared through the umbrella chart's `global:` block; empty when installed alone. */}}
{{- define "switchyard.global" -}}
{{- toYaml (.ctx.Values.global | default dict) -}}
{{- end -}}

{{- define "switchyard.imageTag" -}}
{{- $global := fromYaml (include "switchyard.global" .) -}}
{{- $globalImage := $global.image | default dict -}}
{{- .ctx.Values.image.tag | default $globalImage.tag | default .ctx.Chart.AppVersion | toString -}}
{{- end -}}

{{- define "switchyard.image" -}}
{{- $global := fromYaml (include "switchyard.global" .) -}}
{{- $globalImage := $global.image | default dict -}}
{{- $registry := .ctx.Values.image.registry | default $globalImage.registry | default "" -}}
{{- $repository := .ctx.Values.image.repository | default .c.binary -}}
{{- $ref := ternary $repository (printf "%s/%s" $registry $repository) (empty $registry) -}}
{{- if .ctx.Values.image.digest -}}
{{- printf "%s@%s" $ref .ctx.Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (include "switchyard.imageTag" .) -}}
{{- end -}}
{{- end -}}
