"""The deployment files against their schemas and against the code: docker-compose.yml against
the Compose specification's JSON schema, deploy/k8s against the Kubernetes API schemas, and
every command, port, variable, topic and district in them against what ioc reads."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml

from ioc.cli import build_parser
from ioc.districts import DISTRICT_SLUGS
from ioc.kafka.topics import topic_specs
from ioc.settings import Settings
from tests.harness.paths import ROOT

COMPOSE = ROOT / "docker-compose.yml"
K8S = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")
SETTINGS_ENV = {f"IOC_{name.upper()}" for name in Settings.model_fields}


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolated(text: str, values: dict[str, str]) -> str:
    """What docker compose makes of ${VAR}, ${VAR:-default} and ${VAR:?error} given .env."""
    return VARIABLE.sub(lambda m: values[m.group(1)], text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(interpolated(COMPOSE.read_text("utf-8"), env_example())))


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in K8S:
        docs += [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]
    assert docs, "deploy/k8s holds manifests"
    return docs


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)
    misspelt = {**compose, "services": {"worker": {"image": "ioc:0.1.0", "comand": ["worker"]}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(misspelt, schema, cls=jsonschema.Draft7Validator)


def test_every_compose_variable_has_an_example_and_no_secret_is_written_down() -> None:
    text = COMPOSE.read_text("utf-8")
    example = env_example()
    used = set(VARIABLE.findall(text))
    assert used <= set(example), f"not in .env.example: {sorted(used - set(example))}"
    for match in re.finditer(r"^\s*(\w*PASSWORD\w*):\s*(\S+)", text, flags=re.M):
        assert match.group(2).startswith("${"), f"{match.group(1)} is written in the file"


@pytest.mark.parametrize("path", K8S, ids=lambda p: p.name)
def test_kubernetes_manifests_follow_the_api_schemas(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text("utf-8")):
        if doc:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_schemas_refuse_a_misspelt_field(manifests: list[dict[str, Any]]) -> None:
    (deployment,) = [
        d for d in manifests if d["kind"] == "Deployment" and "worker" in d["metadata"]["name"]
    ]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _ioc_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("image", "").startswith("ioc:")}


def _containers(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for doc in manifests:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        out += pod.get("containers", [])
    return out


def _config_map(manifests: list[dict[str, Any]]) -> dict[str, str]:
    (config,) = [
        d for d in manifests if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ioc-config"
    ]
    return dict(config["data"])


def test_ioc_commands_in_the_deployment_are_commands_ioc_has(
    compose: dict[str, Any], manifests: list[dict[str, Any]]
) -> None:
    commands = [s["command"] for s in _ioc_services(compose).values()]
    commands += [c["args"] for c in _containers(manifests) if c["image"].startswith("ioc:")]
    assert ["topics", "create"] in commands, "a topic-init job creates the topics"
    assert ["worker"] in commands
    for argv in commands:
        build_parser().parse_args(argv)  # SystemExit on an unknown command or option


def test_every_setting_the_deployment_sets_is_one_ioc_reads(
    compose: dict[str, Any], manifests: list[dict[str, Any]]
) -> None:
    names = set()
    for service in _ioc_services(compose).values():
        names |= set(service["environment"])
    names |= set(_config_map(manifests))
    for container in _containers(manifests):
        names |= {e["name"] for e in container.get("env", [])}
    ioc_names = {n for n in names if n.startswith("IOC_")}
    assert ioc_names - SETTINGS_ENV == set(), "unknown settings"
    # And the values parse as settings: the worker's environment gives valid Settings.
    worker = {k: str(v) for k, v in compose["services"]["worker"]["environment"].items()}
    Settings(**{k[4:].lower(): v for k, v in worker.items() if k.startswith("IOC_")})


def test_web_port_probes_and_scraping_agree(
    compose: dict[str, Any], manifests: list[dict[str, Any]]
) -> None:
    worker = compose["services"]["worker"]
    port = int(worker["environment"]["IOC_WEB_PORT"])
    assert [int(p) for p in worker["expose"]] == [port]
    assert f"127.0.0.1:{port}/health" in " ".join(worker["healthcheck"]["test"])
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text("utf-8"))
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["dns_sd_configs"][0] == {"names": ["worker"], "type": "A", "port": port}
    assert int(_config_map(manifests)["IOC_WEB_PORT"]) == port
    (k8s_worker,) = [c for c in _containers(manifests) if c["name"] == "worker"]
    assert k8s_worker["ports"] == [{"name": "web", "containerPort": port}]
    assert k8s_worker["readinessProbe"]["httpGet"]["path"] == "/health"
    assert k8s_worker["livenessProbe"]["httpGet"]["path"] == "/metrics"
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    assert f"EXPOSE {port}" in dockerfile


def test_partitions_are_at_least_the_workers(
    compose: dict[str, Any], manifests: list[dict[str, Any]]
) -> None:
    partitions = int(compose["services"]["worker"]["environment"]["IOC_PARTITIONS"])
    assert int(compose["services"]["worker"]["deploy"]["replicas"]) <= partitions
    (deployment,) = [
        d for d in manifests if d["metadata"]["name"] == "ioc-worker" and d["kind"] == "Deployment"
    ]
    assert deployment["spec"]["replicas"] <= int(_config_map(manifests)["IOC_PARTITIONS"])


def test_kafka_users_and_acls_cover_every_district_and_topic(compose: dict[str, Any]) -> None:
    start = (ROOT / "deploy/kafka/start.sh").read_text("utf-8")
    acls = (ROOT / "deploy/kafka/acls.sh").read_text("utf-8")
    for script in (start, acls):
        (loop,) = re.findall(r"for district in ([a-z -]+); do", script)
        assert loop.split() == list(DISTRICT_SLUGS)
    example = env_example()
    kafka_env = compose["services"]["kafka"]["environment"]
    for slug in DISTRICT_SLUGS:
        var = f"DISTRICT_{slug.upper().replace('-', '_')}_PASSWORD"
        assert var in example
        assert var in kafka_env
    # Every topic the worker uses (and Faust's own, named after the app id) is under a prefix
    # the worker's ACLs grant.
    worker = compose["services"]["worker"]["environment"]
    settings = Settings(app_id=worker["IOC_APP_ID"], partitions=int(worker["IOC_PARTITIONS"]))
    (prefixes,) = re.findall(r"^prefixes=\(([^)]+)\)", acls, flags=re.M)
    granted = tuple(prefixes.split())
    names = [s.name for s in topic_specs(settings)] + [f"{settings.app_id}-engine-state-changelog"]
    assert all(n.startswith(granted) for n in names), names
    assert settings.app_id.startswith("ioc")
    assert '--group ioc "${prefixed[@]}"' in acls  # the app id's group


def test_image_is_pinned_and_runs_as_a_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    bases = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert bases
    assert all(":" in b and not b.endswith(":latest") for b in bases)
    assert re.search(r"^USER (?!root|0\b)\S+", dockerfile, flags=re.M)


def _exported_names() -> set[str]:
    """Every sample name the worker's /metrics can carry: ours and Faust's (ioc_faust_*)."""
    from faust.sensors.prometheus import FaustMetrics
    from prometheus_client import CollectorRegistry

    from ioc.streams.metrics import Metrics

    registry = CollectorRegistry()
    Metrics.create(registry)
    FaustMetrics.create(registry, "ioc_faust")
    names = set()
    for family in registry.collect():
        names.add(family.name)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        names |= {family.name + s for s in suffixes.get(family.type, ())}
    return names


def test_every_metric_the_dashboard_plots_is_one_the_worker_exports(
    manifests: list[dict[str, Any]],
) -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/ioc.json").read_text("utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\bioc_\w+", expr)}
    assert used, "the dashboard plots ioc metrics"
    assert used <= _exported_names(), sorted(used - _exported_names())
    # Both Grafanas name the datasource the panels use.
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    compose_ds = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text("utf-8")
    )
    (provisioning,) = [d for d in manifests if d["metadata"]["name"] == "ioc-grafana-provisioning"]
    k8s_ds = yaml.safe_load(provisioning["data"]["datasources.yml"])
    for datasources in (compose_ds, k8s_ds):
        assert uids == {d["uid"] for d in datasources["datasources"]}


def _prometheus_config_map(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [
        d
        for d in manifests
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "ioc-prometheus"
    ]
    return found


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text("utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_parse_and_say_what_to_do() -> None:
    rules = _alert_rules()
    assert {r["alert"] for r in rules} >= {"IocWorkerDown", "IocReadingsStopped", "IocSinkFailing"}
    for rule in rules:
        promql_parser.parse(rule["expr"])  # raises on what Prometheus would refuse
        if "for" in rule:
            promql_parser.parse_duration(rule["for"])
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_alert_rules_watch_metrics_and_a_job_that_exist(manifests: list[dict[str, Any]]) -> None:
    exprs = [rule["expr"] for rule in _alert_rules()]
    used = {name for expr in exprs for name in re.findall(r"\bioc_\w+", expr)}
    assert used <= _exported_names(), sorted(used - _exported_names())
    jobs = {job for expr in exprs for job in re.findall(r'job="([^"]+)"', expr)}
    config_map = _prometheus_config_map(manifests)
    compose_config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text("utf-8"))
    k8s_config = yaml.safe_load(config_map["data"]["prometheus.yml"])
    for config in (compose_config, k8s_config):
        assert jobs == {job["job_name"] for job in config["scrape_configs"]}
        assert config["rule_files"] == ["alerts.yml"]


def test_both_prometheuses_load_the_same_alert_rules(
    compose: dict[str, Any], manifests: list[dict[str, Any]]
) -> None:
    text = (ROOT / "deploy/prometheus/alerts.yml").read_text("utf-8")
    config_map = _prometheus_config_map(manifests)
    assert config_map["data"]["alerts.yml"] == text
    # Compose mounts the rules next to the configuration that names them.
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def test_series_the_alert_rules_select_exist_from_a_workers_start() -> None:
    """A histogram bucket an alert reads is one the worker has (`le` as prometheus_client
    writes it), and a counter an alert watches for an increase is there at 0 before its first
    event (a series that first appears at 1 has no increase)."""
    from prometheus_client import CollectorRegistry, generate_latest

    from ioc.streams.metrics import Metrics

    registry = CollectorRegistry()
    Metrics.create(registry)
    exported = generate_latest(registry).decode()
    exprs = " ".join(rule["expr"] for rule in _alert_rules())
    selectors = re.findall(r"(ioc_\w+)\{([^}]*)\}", exprs)
    assert selectors, "the rules select labelled series"
    for name, labels in selectors:
        wanted = re.findall(r'(\w+)="([^"]*)"', labels)  # equality matchers only
        if not wanted:
            continue  # `!=`: no series is the same as none selected
        present = [
            line
            for line in exported.splitlines()
            if line.startswith(name + "{")
            and all(f'{key}="{value}"' in line for key, value in wanted)
        ]
        assert present, f"{name}{{{labels}}} is not exported by a worker that has just started"
