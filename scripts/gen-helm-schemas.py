#!/usr/bin/env python3
"""Writes values.schema.json for every Switchyard chart (helm/charts/<service>, the library
helm/charts/common and the umbrella helm/switchyard) from one description, so the schemas
cannot drift apart.

    python3 scripts/gen-helm-schemas.py          # rewrite the files
    python3 scripts/gen-helm-schemas.py --check  # exit 1 if a committed file is out of date

scripts/check-deploy.py runs the --check form. What the schemas refuse:
  - unknown top-level values (a typo such as `replicacount` fails instead of being ignored);
  - secrets in plain values: config.database.url / read_url, config.auth.jwt_hs256_secret and
    config.secrets.keys come from existing Secrets through secretEnv, never from values;
  - lists in config (an environment variable carries one string: lists go in configFile);
  - a root filesystem that is writable, privilege escalation, or a pod allowed to run as root.
Key names inside config sections are checked against the binaries themselves by
scripts/check-deploy.py (`switchyard config check`), not here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    # name: (serves clients over HTTP, consumer group lag that KEDA can scale on)
    "gateway": (True, False),
    "ingest": (True, False),
    "websocket-gateway": (True, False),
    "processor": (False, True),
    "outbox-relay": (False, False),
    "audit-writer": (False, True),
    "webhook-dispatcher": (False, True),
}
SECTIONS = [
    "http",
    "bus",
    "database",
    "ingest",
    "dedupe",
    "processor",
    "outbox",
    "dispatcher",
    "audit_writer",
    "auth",
    "gateway",
    "websocket",
    "secrets",
    "telemetry",
    "shutdown",
]
SECRET_KEYS = {
    "database": ["url", "read_url"],
    "auth": ["jwt_hs256_secret"],
    "secrets": ["keys"],
}
# Set by the chart itself (the container port), so a value would only break the probes.
CHART_OWNED_KEYS = {"http": ["bind"]}

SCALAR = {"type": ["string", "number", "boolean"]}
DNS_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
K8S_OBJECT = {"type": "object"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def section_schema(name: str) -> dict:
    schema: dict = {
        "type": "object",
        "additionalProperties": {"anyOf": [SCALAR, {"$ref": "#/definitions/section"}]},
    }
    refused = {}
    for key in SECRET_KEYS.get(name, []):
        refused[key] = {
            "not": {},
            "description": f"{name}.{key} is a secret: set it through secretEnv from a Secret",
        }
    for key in CHART_OWNED_KEYS.get(name, []):
        refused[key] = {"not": {}, "description": f"{name}.{key} is set by the chart"}
    if refused:
        schema["properties"] = refused
    return schema


def config_schema() -> dict:
    return {
        "type": "object",
        "description": "Rendered to SWITCHYARD__SECTION__KEY variables (README: Configuration).",
        "additionalProperties": False,
        "properties": {name: section_schema(name) for name in SECTIONS},
    }


def definitions() -> dict:
    return {
        "section": {
            "type": "object",
            "additionalProperties": {"anyOf": [SCALAR, {"$ref": "#/definitions/section"}]},
        },
        "config": config_schema(),
        "global": {
            "type": "object",
            "properties": {
                "image": {
                    "type": "object",
                    "properties": {"registry": {"type": "string"}, "tag": {"type": "string"}},
                },
                "imagePullSecrets": {"type": "array", "items": K8S_OBJECT},
                "config": {"$ref": "#/definitions/config"},
                "otel": {"type": "object", "properties": {"endpoint": {"type": "string"}}},
            },
        },
    }


def service_schema(http: bool, consumer: bool) -> dict:
    replicas = {"type": "integer", "minimum": 1}
    props: dict = {
        "global": {"$ref": "#/definitions/global"},
        "enabled": {"type": "boolean"},
        # Helm's own entry for the library chart (it has no values).
        "switchyard-common": {"type": "object"},
        "image": {
            "type": "object",
            "additionalProperties": False,
            "required": ["repository", "pullPolicy"],
            "properties": {
                "registry": {"type": "string"},
                "repository": {"type": "string", "minLength": 1},
                "tag": {"type": "string"},
                "digest": {"type": "string", "pattern": "^(sha256:[a-f0-9]{64})?$"},
                "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
            },
        },
        "imagePullSecrets": {"type": "array", "items": K8S_OBJECT},
        "nameOverride": {"type": "string"},
        "fullnameOverride": {"type": "string"},
        "commonLabels": STRING_MAP,
        "replicaCount": {"type": "integer", "minimum": 0},
        "config": {"$ref": "#/definitions/config"},
        "configFile": {"type": "string"},
        "secretEnv": {
            "type": "object",
            "description": "Environment variable -> existing Secret and key.",
            "propertyNames": {"pattern": "^SWITCHYARD__[A-Z0-9_]+$"},
            "additionalProperties": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["secretName", "key"],
                        "properties": {
                            "secretName": {"type": "string", "pattern": DNS_NAME},
                            "key": {"type": "string", "pattern": "^[-._a-zA-Z0-9]+$"},
                            "optional": {"type": "boolean"},
                        },
                    },
                ]
            },
        },
        "extraEnv": {
            "type": "array",
            "items": {"type": "object", "required": ["name"]},
        },
        "otel": {"type": "object", "properties": {"endpoint": {"type": "string"}}},
        "resources": K8S_OBJECT,
        "podSecurityContext": {
            "type": "object",
            "required": ["runAsNonRoot"],
            "properties": {"runAsNonRoot": {"const": True}},
        },
        "securityContext": {
            "type": "object",
            "required": ["readOnlyRootFilesystem", "allowPrivilegeEscalation"],
            "properties": {
                "readOnlyRootFilesystem": {"const": True},
                "allowPrivilegeEscalation": {"const": False},
                "runAsNonRoot": {"const": True},
            },
        },
        "terminationGracePeriodSeconds": {"type": "integer", "minimum": 1},
        "probes": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"startupFailureThreshold": {"type": "integer", "minimum": 1}},
        },
        "serviceAccount": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "create": {"type": "boolean"},
                "name": {"type": "string"},
                "annotations": STRING_MAP,
            },
        },
        "service": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "annotations": STRING_MAP,
            },
        },
        "autoscaling": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "minReplicas": replicas,
                "maxReplicas": replicas,
                "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1},
                "targetMemoryUtilizationPercentage": {"type": ["integer", "null"], "minimum": 1},
                "scaleDownStabilizationSeconds": {"type": "integer", "minimum": 0},
            },
        },
        "podDisruptionBudget": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "maxUnavailable": {"type": ["integer", "string", "null"]},
                "minAvailable": {"type": ["integer", "string", "null"]},
            },
        },
        "serviceMonitor": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                "labels": STRING_MAP,
            },
        },
        "networkPolicy": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "public": {"type": "boolean"},
                "allowFrom": {"type": "array", "items": K8S_OBJECT},
                "metricsFrom": {"type": "array", "items": K8S_OBJECT},
            },
        },
        "topologySpread": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "topologyKey": {"type": "string", "minLength": 1},
            },
        },
        "podAnnotations": STRING_MAP,
        "podLabels": STRING_MAP,
        "priorityClassName": {"type": "string"},
        # Kubernetes objects passed through as they are: the rendered manifests are checked
        # against the Kubernetes OpenAPI schemas instead.
        "nodeSelector": STRING_MAP,
        "tolerations": {"type": "array", "items": K8S_OBJECT},
        "affinity": K8S_OBJECT,
    }
    if http:
        props["ingress"] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "className": {"type": "string"},
                "annotations": STRING_MAP,
                "hosts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["host", "paths"],
                        "properties": {
                            "host": {"type": "string"},
                            "paths": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["path"],
                                    "properties": {
                                        "path": {"type": "string", "pattern": "^/"},
                                        "pathType": {
                                            "enum": ["Prefix", "Exact", "ImplementationSpecific"]
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
                "tls": {"type": "array", "items": K8S_OBJECT},
            },
        }
    if consumer:
        props["keda"] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "minReplicas": {"type": "integer", "minimum": 0},
                "maxReplicas": replicas,
                "lagThreshold": {"type": "integer", "minimum": 1},
                "activationLagThreshold": {"type": "integer", "minimum": 0},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "authenticationRef": {"type": "string"},
            },
        }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "required": ["image", "config", "secretEnv", "resources", "securityContext"],
        "properties": props,
        "definitions": definitions(),
    }


def umbrella_schema() -> dict:
    props: dict = {"global": {"$ref": "#/definitions/global"}}
    for name in SERVICES:
        # Each service's own schema checks the rest of its block.
        props[name] = {
            "type": "object",
            "required": ["enabled"],
            "properties": {"enabled": {"type": "boolean"}},
        }
    props["grafanaDashboard"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean"},
            "namespace": {"type": "string"},
            "labels": STRING_MAP,
            "annotations": STRING_MAP,
        },
    }
    props["prometheusRules"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean"},
            "labels": STRING_MAP,
            "consumerLagThreshold": {"type": "integer", "minimum": 1},
            "outboxOldestPendingSeconds": {"type": "integer", "minimum": 1},
        },
    }
    props["kafkaTopics"] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean"},
            "image": {"type": "string", "minLength": 1},
            "partitions": {"type": "integer", "minimum": 1, "maximum": 1024},
            "replicationFactor": {"type": "integer", "minimum": 1},
            "retryTopics": {"type": "integer", "minimum": 1},
            "extraArgs": {"type": "array", "items": {"type": "string"}},
            "resources": K8S_OBJECT,
        },
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "required": ["global"],
        "properties": props,
        "definitions": definitions(),
    }


def wanted() -> dict[Path, str]:
    files = {}
    for name, (http, consumer) in SERVICES.items():
        files[ROOT / "helm" / "charts" / name / "values.schema.json"] = service_schema(
            http, consumer
        )
    files[ROOT / "helm" / "switchyard" / "values.schema.json"] = umbrella_schema()
    # The library chart has no values of its own; only Helm's `global` reaches it.
    files[ROOT / "helm" / "charts" / "common" / "values.schema.json"] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"global": {"type": "object"}},
    }
    return {path: json.dumps(schema, indent=2) + "\n" for path, schema in files.items()}


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in wanted().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        for path in stale:
            print(
                f"{path} is out of date: run python3 scripts/gen-helm-schemas.py", file=sys.stderr
            )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
