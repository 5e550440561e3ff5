{{- define "switchyard.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "switchyard.fullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
  {{- with .ctx.Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .ctx.Values.service.type }}
  selector:
    {{- include "switchyard.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .ctx.Values.service.port | default .c.port }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{- define "switchyard.serviceaccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "switchyard.serviceAccountName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
  {{- with .ctx.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}

{{- define "switchyard.ingress" -}}
{{- $v := .ctx.Values -}}
{{- $fullname := include "switchyard.fullname" . -}}
{{- $port := $v.service.port | default .c.port -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $fullname }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" . | nindent 4 }}
  {{- with $v.ingress.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $v.ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $v.ingress.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    {{- range $v.ingress.hosts }}
    - host: {{ .host | quote }}
      http:
        paths:
          {{- range .paths }}
          - path: {{ .path }}
            pathType: {{ .pathType | default "Prefix" }}
            backend:
              service:
                name: {{ $fullname }}
                port:
                  number: {{ $port }}
          {{- end }}
    {{- end }}
{{- end -}}
