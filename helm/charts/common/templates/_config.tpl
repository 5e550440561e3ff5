{{/*
The service's configuration: global.config (shared through the umbrella chart) overlaid by
the chart's own `config`, as YAML.
*/}}
{{- define "switchyard.config" -}}
{{- $global := fromYaml (include "switchyard.global" .) -}}
{{- $merged := mustMergeOverwrite (deepCopy ($global.config | default dict)) (deepCopy (.ctx.Values.config | default dict)) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/*
Flattens a configuration map to SWITCHYARD__SECTION__KEY: "value" lines (the services'
environment layer). Whole numbers lose the ".0" that JSON-decoded values carry; a list
fails the render (an environment variable carries one string: lists go in configFile).
*/}}
{{- define "switchyard.flatten" -}}
{{- range $key, $value := .value }}
{{- $name := printf "%s__%s" $.prefix (upper $key) }}
{{- if kindIs "map" $value }}
{{- include "switchyard.flatten" (dict "prefix" $name "value" $value) }}
{{- else if kindIs "slice" $value }}
{{- fail (printf "config: %s is a list, which an environment variable cannot carry; put that setting in configFile instead" $name) }}
{{- else if and (kindIs "float64" $value) (eq $value (floor $value)) }}
{{ $name }}: {{ int64 $value | toString | quote }}
{{- else if kindIs "invalid" $value }}
{{ $name }}: ""
{{- else }}
{{ $name }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "switchyard.configEnv" -}}
{{- include "switchyard.flatten" (dict "prefix" "SWITCHYARD" "value" (fromYaml (include "switchyard.config" .))) -}}
{{- end -}}

{{/* Consumer group ids as the service builds them: bus.group_prefix + name. */}}
{{- define "switchyard.groupPrefix" -}}
{{- $config := fromYaml (include "switchyard.config" .) -}}
{{- (($config.bus | default dict).group_prefix | default "") -}}
{{- end -}}

{{- define "switchyard.topicPrefix" -}}
{{- $config := fromYaml (include "switchyard.config" .) -}}
{{- (($config.bus | default dict).topic_prefix | default "switchyard") -}}
{{- end -}}

{{- define "switchyard.kafkaBrokers" -}}
{{- $config := fromYaml (include "switchyard.config" .) -}}
{{- ((($config.bus | default dict).kafka | default dict).brokers | default "") -}}
{{- end -}}

{{- define "switchyard.drainSecs" -}}
{{- $config := fromYaml (include "switchyard.config" .) -}}
{{- (($config.shutdown | default dict).drain_timeout_secs | default 20) | int -}}
{{- end -}}
