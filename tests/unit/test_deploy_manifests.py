"""The deployment files agree with the code: module names, ports, probes, settings, topics, scaling.

Reads docker-compose.yml, deploy/prometheus/prometheus.yml, deploy/docker/Dockerfile and the Kubernetes
objects each overlay of k8s/ renders (`kubectl kustomize`). Schema validation (Compose Specification,
Kubernetes and CRD schemas) is in test_deploy_schemas.py; alerts and the dashboard in test_deploy_alerts.py.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadflow_shared import topics as topics_module
from leadflow_shared.settings import ServiceSettings
from leadflow_shared.topics import ALL_TOPICS, TOPIC_CONFIGS
from leadflow_tools.k8s_schemas import kustomize_build

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "assignment", "sequence", "referral")
OVERLAYS = ("dev", "prod")
# `leadflow dlq redrive`'s ledgers, one partition each, declared beside the topics (when the code has them)
LEDGER_TOPICS: tuple[str, ...] = tuple(getattr(topics_module, "REDRIVE_LEDGER_TOPICS", ()))
DECLARED_TOPICS = set(ALL_TOPICS) | set(LEDGER_TOPICS)
# Settings of issue 14's metrics catalog that the deployment files set before every service reads them.
CATALOG_SETTINGS = {"topic_replication_factor", "log_format"}
KAFKA_DEFAULT_RETENTION_MS = "604800000"  # the broker's default (7 days): what an unset retention.ms means


def load_documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# --- what the code says -------------------------------------------------------------------------


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{service}.settings")
    (cls,) = (
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, ServiceSettings) and c is not ServiceSettings
    )
    return cls


def env_prefix(service: str) -> str:
    return str(settings_class(service).model_config["env_prefix"])


def default_port(service: str) -> int:
    return int(settings_class(service).model_fields["http_port"].default)


def is_service_module(name: object) -> bool:
    return name in SERVICES and importlib.util.find_spec(f"{name}.__main__") is not None


def known_setting(service: str, env_name: str) -> bool:
    """A variable the service reads: its prefix and one of its settings, or a standard OTEL_* one."""
    if env_name.startswith("OTEL_"):
        return True
    prefix = env_prefix(service)
    field = env_name.removeprefix(prefix).lower()
    return env_name.startswith(prefix) and (field in settings_class(service).model_fields or field in CATALOG_SETTINGS)


@functools.cache
def consumed_topics(service: str) -> tuple[str, ...]:
    """The topics the service's subscriptions read, as its entrypoints/stream.py declares them."""
    source = (REPO / "services" / service / service / "entrypoints" / "stream.py").read_text()
    body = source.split("\ndef subscriptions(", 1)[1].split("\ndef ", 1)[0]
    return tuple(getattr(topics_module, name) for name in re.findall(r"\btopic=([A-Z_]+)\b", body))


@functools.cache
def published_topics(service: str) -> tuple[str, ...]:
    source = (REPO / "services" / service / service / "entrypoints" / "stream.py").read_text()
    body = source.split("\ndef publications(", 1)[1].split("\ndef ", 1)[0]
    return tuple(getattr(topics_module, name) for name in re.findall(r"\btopic=([A-Z_]+)\b", body))


DEFAULT_PARTITIONS = ServiceSettings.model_fields["lead_topic_partitions"].default


def production_settings(name: str, env: dict[str, str]) -> Any:
    """The service's settings class reading exactly this environment (raises if refused)."""
    cls = settings_class(name)
    prefix = env_prefix(name)
    fields = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    settings = cls(**fields)
    assert settings.mode == "production"
    return settings


def test_the_services_named_here_are_the_service_packages() -> None:
    on_disk = {p.parent.name for p in (REPO / "services").glob("*/*/__main__.py")}
    assert on_disk == set(SERVICES)
    for name in SERVICES:
        assert consumed_topics(name) and published_topics(name), name


# --- docker-compose.yml -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (document,) = load_documents(REPO / "docker-compose.yml")
    return document  # type: ignore[no-any-return]


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _substituted(value: str) -> str:
    """A compose `${VAR:-default}` as deployed with VAR unset (its default), `${VAR:?message}` as
    deployed with VAR set."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "set-at-deploy-time", value)


@pytest.mark.parametrize("name", SERVICES)
def test_compose_runs_each_service_from_the_image_in_production_mode(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    prefix = env_prefix(name)
    env = compose_env(service)
    assert env[f"{prefix}MODE"] == "production"
    # production mode refuses to start without these two
    assert env[f"{prefix}KAFKA_BOOTSTRAP"] and env[f"{prefix}POSTGRES_HOST"]
    assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0"
    # one broker: topics with one replica, which production mode accepts only when told so
    assert env[f"{prefix}TOPIC_REPLICATION_FACTOR"] == "1"
    assert service["command"] == [name] and is_service_module(name)
    unknown = [k for k in env if not known_setting(name, k)]
    assert not unknown, f"{name} does not read {unknown}"
    # and the service's own settings accept the whole environment in production mode
    production_settings(name, {k: _substituted(v) for k, v in env.items()})
    assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]) == REPO / "deploy/docker/Dockerfile"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_health_checks_ask_readyz_and_wait_for_kafka_postgres_and_topics(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    port = default_port(name)
    assert compose_env(service)[f"{env_prefix(name)}HTTP_PORT"] == str(port)
    assert f"{port}:{port}" in service["ports"]
    test = service["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"] and f"http://127.0.0.1:{port}/readyz" in test[-1]  # no curl in the image
    assert service["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
        "topic-init": {"condition": "service_completed_successfully"},
    }


def test_every_long_running_compose_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == "topic-init":  # a one-shot job: it completes
            assert service["restart"] == "no" and "healthcheck" not in service
            continue
        assert service["healthcheck"]["test"], name
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition["condition"] in ("service_healthy", "service_completed_successfully"), (name, dependency)


def test_compose_kafka_is_one_kraft_node_that_never_auto_creates_topics(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = compose_env(kafka)
    assert kafka["image"] == "apache/kafka:4.2.0"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    factors = {k: v for k, v in env.items() if k.endswith("REPLICATION_FACTOR") or k.endswith("MIN_ISR")}
    assert factors and set(factors.values()) == {"1"}
    bootstrap = {compose_env(compose["services"][s])[f"{env_prefix(s)}KAFKA_BOOTSTRAP"] for s in SERVICES}
    assert bootstrap == {"kafka:19092"} and "INTERNAL://kafka:19092" in env["KAFKA_ADVERTISED_LISTENERS"]


def compose_topic_init(compose: dict[str, Any]) -> dict[str, tuple[int, dict[str, str]]]:
    """topic → (partitions, configs) as topic-init's script creates them (compose defaults applied)."""
    service = compose["services"]["topic-init"]
    script = _substituted(" ".join(service["command"]))
    created: dict[str, tuple[int, dict[str, str]]] = {}
    for line in script.splitlines():
        match = re.fullmatch(r"\s*create --topic (\S+) --partitions (\d+)((?: --config \S+=\S+)*)\s*", line)
        if match:
            assert match.group(1) not in created, f"created twice: {match.group(1)}"
            configs = dict(c.split("=", 1) for c in re.findall(r"--config (\S+)", match.group(3)))
            created[match.group(1)] = (int(match.group(2)), configs)
    return created


def test_compose_topic_init_creates_every_topic_with_the_services_partitions(compose: dict[str, Any]) -> None:
    service = compose["services"]["topic-init"]
    assert service["image"] == compose["services"]["kafka"]["image"]
    assert service["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    script = " ".join(service["command"])
    assert "kafka-topics.sh --bootstrap-server kafka:19092 --create --if-not-exists --replication-factor 1" in script
    created = compose_topic_init(compose)
    assert set(created) == DECLARED_TOPICS
    partitions = {
        int(_substituted(compose_env(compose["services"][s])[f"{env_prefix(s)}LEAD_TOPIC_PARTITIONS"]))
        for s in SERVICES
    }
    (expected,) = partitions  # every service asks for the same count
    for topic, (count, configs) in created.items():
        assert count == (1 if topic in LEDGER_TOPICS else expected), topic
        assert TOPIC_CONFIGS.get(topic, {}).items() <= configs.items(), topic


def test_compose_postgres_creates_one_database_per_service(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    (init,) = (v.split(":")[0] for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    sql = (REPO / init).read_text()
    for name in SERVICES:
        assert re.search(rf"CREATE DATABASE {name};", sql)
        assert compose_env(compose["services"][name])[f"{env_prefix(name)}POSTGRES_DBNAME"] == name


def test_compose_mounts_the_demo_roster_for_assignment(compose: dict[str, Any]) -> None:
    assignment = compose["services"]["assignment"]
    roster = compose_env(assignment)["ASSIGNMENT_ROSTER_FILE"]
    assert f"./deploy/demo/sellers.json:{roster}:ro" in assignment["volumes"]


def test_compose_prometheus_scrapes_every_service_and_loads_the_alerts(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    (config,) = load_documents(REPO / "deploy/prometheus/prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"] and (REPO / "deploy/prometheus/alerts.yml").is_file()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(SERVICES)  # job = service name, as the k8s ServiceMonitors make it
    for name, job in jobs.items():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        (static,) = job["static_configs"]
        assert static["targets"] == [f"{name}:{default_port(name)}"]


def test_compose_grafana_is_provisioned_with_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/leadflow-dashboard.json"].startswith("/var/lib/grafana/dashboards/")
    (provider,) = load_documents(REPO / "deploy/grafana/provisioning/dashboards/leadflow.yml")
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    (sources,) = load_documents(REPO / "deploy/grafana/provisioning/datasources/prometheus.yml")
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    for source in mounts:
        assert (REPO / source).exists(), source


# --- k8s/ ---------------------------------------------------------------------------------------


def k8s_files() -> list[Path]:
    return sorted(p for p in (REPO / "k8s").rglob("*") if p.suffix in (".yaml", ".yml"))


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize_build(REPO / "k8s" / "overlays" / overlay))


def objects_of(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered(overlay) if o["kind"] == kind}


def test_every_k8s_file_is_used_by_a_kustomization() -> None:
    used: set[Path] = set()
    for path in k8s_files():
        if path.stem != "kustomization":
            continue
        (kustomization,) = load_documents(path)
        for entry in kustomization.get("resources", []):
            target = (path.parent / entry).resolve()
            assert target.exists(), f"{path}: {entry}"
            used.add(target / "kustomization.yaml" if target.is_dir() else target)
        for patch in kustomization.get("patches", []):
            if "path" in patch:
                assert (path.parent / patch["path"]).is_file(), f"{path}: {patch['path']}"
                used.add((path.parent / patch["path"]).resolve())
    overlays = {(REPO / "k8s" / "overlays" / o / "kustomization.yaml").resolve() for o in OVERLAYS}
    unused = {p.resolve() for p in k8s_files()} - used - overlays
    assert not unused, f"not in any kustomization: {sorted(map(str, unused))}"
    assert {p.name for p in (REPO / "k8s" / "overlays").iterdir()} == set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_builds_in_one_namespace(overlay: str) -> None:
    objects = rendered(overlay)
    assert objects
    namespaces = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
    assert namespaces == {"leadflow"} and set(objects_of(overlay, "Namespace")) == {"leadflow"}


def container_of(overlay: str, name: str) -> dict[str, Any]:
    (container,) = objects_of(overlay, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    return container  # type: ignore[no-any-return]


def config_of(overlay: str, name: str) -> dict[str, str]:
    (source,) = container_of(overlay, name)["envFrom"]
    return objects_of(overlay, "ConfigMap")[source["configMapRef"]["name"]]["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_each_deployment_probes_and_runs_its_module_locked_down(overlay: str, name: str) -> None:
    deployment = objects_of(overlay, "Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    container = container_of(overlay, name)
    port = default_port(name)
    assert "replicas" not in deployment["spec"]  # the autoscaler owns them
    assert container["args"] == [name] and is_service_module(name)
    assert container["image"].split(":")[0] == "leadflow"
    assert "command" not in container  # keep the image's `python -m` entrypoint
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["terminationGracePeriodSeconds"] == 15
    assert container["resources"]["requests"] and container["resources"]["limits"]
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp["name"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_each_service_has_a_service_and_its_configuration(overlay: str, name: str) -> None:
    deployment = objects_of(overlay, "Deployment")[name]
    container = container_of(overlay, name)
    service = objects_of(overlay, "Service")[name]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"] == [{"name": "http", "port": default_port(name), "targetPort": "http"}]

    prefix = env_prefix(name)
    config = config_of(overlay, name)
    assert config[f"{prefix}MODE"] == "production"
    assert config[f"{prefix}KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config[f"{prefix}HTTP_HOST"] == "0.0.0.0" and config[f"{prefix}HTTP_PORT"] == str(default_port(name))
    env = {item["name"]: item for item in container["env"]}
    secrets = {n: item["valueFrom"]["secretKeyRef"] for n, item in env.items() if "valueFrom" in item}
    optional = {n: ref for n, ref in secrets.items() if ref.get("optional")}
    assert set(secrets) - set(optional) == {f"{prefix}POSTGRES_PASSWORD", f"{prefix}KAFKA_SASL_PASSWORD"}
    # sequence's mailer: its SMTP login and intake key, secrets an operator adds (optional: without
    # them the service starts, and /readyz names the mailer while e-mails wait)
    assert set(optional) == (
        {f"{prefix}SMTP_USERNAME", f"{prefix}SMTP_PASSWORD", f"{prefix}INTAKE_API_KEY"} if name == "sequence" else set()
    )
    mine = [n for n in [*env, *config] if n.startswith(prefix) or n.startswith("OTEL_")]
    unknown = [n for n in mine if not known_setting(name, n)]
    assert not unknown, f"settings {name} does not read: {unknown}"
    # the Kafka password is the one Strimzi generates for the service's KafkaUser
    assert secrets[f"{prefix}KAFKA_SASL_PASSWORD"] == {
        "name": config[f"{prefix}KAFKA_SASL_USERNAME"],
        "key": "password",
    }
    assert config[f"{prefix}KAFKA_SASL_USERNAME"] in objects_of(overlay, "KafkaUser")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(Path(config[f"{prefix}KAFKA_SSL_CAFILE"]).parent) in mounts
    # and the service's own settings accept the whole configuration in production mode
    production_settings(name, {**config, **{k: "from-a-secret" for k in secrets}})


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_each_service_has_its_own_postgresql_cluster(overlay: str, name: str) -> None:
    prefix = env_prefix(name)
    config = config_of(overlay, name)
    clusters = objects_of(overlay, "Cluster")
    (cluster,) = (c for c in clusters.values() if config[f"{prefix}POSTGRES_HOST"] == f"{c['metadata']['name']}-rw")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert initdb == {"database": config[f"{prefix}POSTGRES_DBNAME"], "owner": config[f"{prefix}POSTGRES_USER"]}
    assert config[f"{prefix}POSTGRES_DBNAME"] == name
    password = next(i for i in container_of(overlay, name)["env"] if i["name"] == f"{prefix}POSTGRES_PASSWORD")
    # CloudNativePG writes the owner's password into <cluster>-app
    assert password["valueFrom"]["secretKeyRef"] == {"name": f"{cluster['metadata']['name']}-app", "key": "password"}
    assert len(clusters) == len(SERVICES)


def topic_spec(overlay: str) -> dict[str, dict[str, Any]]:
    return {t["spec"].get("topicName", n): t for n, t in objects_of(overlay, "KafkaTopic").items()}


def broker_count(overlay: str) -> int:
    pools = objects_of(overlay, "KafkaNodePool").values()
    return sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_has_a_kafka_topic_the_services_accept(overlay: str) -> None:
    topics = topic_spec(overlay)
    assert set(topics) == DECLARED_TOPICS, (
        f"missing: {DECLARED_TOPICS - set(topics)}, extra: {set(topics) - DECLARED_TOPICS}"
    )
    (cluster,) = objects_of(overlay, "Kafka")
    brokers = broker_count(overlay)
    partitions = {int(config_of(overlay, s)[f"{env_prefix(s)}LEAD_TOPIC_PARTITIONS"]) for s in SERVICES}
    factors = {int(config_of(overlay, s)[f"{env_prefix(s)}TOPIC_REPLICATION_FACTOR"]) for s in SERVICES}
    (expected_partitions,), (expected_factor,) = partitions, factors
    for name, topic in topics.items():
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        # exactly what the services require (production mode refuses fewer; more would be unused)
        assert spec["partitions"] == (1 if name in LEDGER_TOPICS else expected_partitions), name
        assert spec["replicas"] == expected_factor <= brokers, name
        assert int(spec["config"]["min.insync.replicas"]) == max(1, expected_factor - 1), name
        retention = str(spec["config"].get("retention.ms", KAFKA_DEFAULT_RETENTION_MS))
        assert TOPIC_CONFIGS.get(name, {}).get("retention.ms", retention) == retention, name
    if overlay == "prod":
        assert expected_factor == 3 and expected_partitions == 24


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_compose_and_kubernetes_create_the_topics_with_the_same_settings(overlay: str, compose: dict[str, Any]) -> None:
    created = compose_topic_init(compose)
    for name, topic in topic_spec(overlay).items():
        k8s = {k: str(v) for k, v in topic["spec"]["config"].items() if k != "min.insync.replicas"}
        local = {"retention.ms": KAFKA_DEFAULT_RETENTION_MS, **created[name][1]}
        assert k8s == local, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_cluster_runs_kraft_node_pools_with_acls_and_no_auto_created_topics(overlay: str) -> None:
    (cluster,) = objects_of(overlay, "Kafka").values()
    pools = objects_of(overlay, "KafkaNodePool").values()
    assert pools and all(p["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"] for p in pools)
    assert {"controller", "broker"} <= {role for p in pools for role in p["spec"]["roles"]}
    kafka = cluster["spec"]["kafka"]
    assert kafka["config"]["auto.create.topics.enable"] is False
    assert kafka["authorization"] == {"type": "simple"}
    assert "userOperator" in cluster["spec"]["entityOperator"] and "topicOperator" in cluster["spec"]["entityOperator"]
    brokers = broker_count(overlay)
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
    ):
        assert kafka["config"][key] <= brokers, key
    (listener,) = kafka["listeners"]
    assert listener["tls"] is True and listener["authentication"] == {"type": "scram-sha-512"}
    for name in SERVICES:
        host, port = config_of(overlay, name)[f"{env_prefix(name)}KAFKA_BOOTSTRAP"].split(":")
        assert (host, int(port)) == (f"{cluster['metadata']['name']}-kafka-bootstrap", listener["port"])


def acls_of(user: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (acl["resource"]["type"], acl["resource"]["name"], operation)
        for acl in user["spec"]["authorization"]["acls"]
        for operation in acl["operations"]
    }


@pytest.mark.parametrize("name", SERVICES)
def test_each_kafka_user_may_do_what_its_service_does_and_no_more(name: str) -> None:
    users = objects_of("prod", "KafkaUser")
    user = users[f"leadflow-{name}"]
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    acls = acls_of(user)
    assert ("group", f"leadflow-{name}", "Read") in acls
    for topic in consumed_topics(name):
        assert {("topic", topic, "Read"), ("topic", f"{topic}.dlq", "Write")} <= acls, topic
        assert ("topic", topic, "Write") not in acls, f"{name} may write {topic}, which it consumes"
    for topic in published_topics(name):
        assert ("topic", topic, "Write") in acls, topic
    written = {r for (kind, r, op) in acls if kind == "topic" and op == "Write"}
    assert written == set(published_topics(name)) | {f"{t}.dlq" for t in consumed_topics(name)}
    ops = acls_of(users["leadflow-ops"])
    for topic in consumed_topics(name):  # redrive: the dead letters back to the topic, with the ledger
        assert {("topic", f"{topic}.dlq", "Read"), ("topic", topic, "Write")} <= ops, topic


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_each_service_scales_on_cpu_and_lag_up_to_its_partitions(overlay: str, name: str) -> None:
    hpa = objects_of(overlay, "HorizontalPodAutoscaler")[name]
    scaled = objects_of(overlay, "ScaledObject")[name]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert scaled["spec"]["scaleTargetRef"]["name"] == name
    # KEDA takes the HPA over instead of making a second one
    assert scaled["metadata"]["annotations"]["scaledobject.keda.sh/transfer-hpa-ownership"] == "true"
    assert scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["name"] == hpa["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        scaled["spec"]["minReplicaCount"],
        scaled["spec"]["maxReplicaCount"],
    )
    topics = topic_spec(overlay)
    ceiling = min(topics[t]["spec"]["partitions"] for t in consumed_topics(name))
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= ceiling
    (cpu,) = (m for m in hpa["spec"]["metrics"] if m["type"] == "Resource")
    triggers = scaled["spec"]["triggers"]
    (cpu_trigger,) = (t for t in triggers if t["type"] == "cpu")
    assert cpu_trigger["metadata"]["value"] == str(cpu["resource"]["target"]["averageUtilization"])
    kafka = {t["metadata"]["topic"]: t for t in triggers if t["type"] == "kafka"}
    assert set(kafka) == set(consumed_topics(name))
    config = config_of(overlay, name)
    prefix = env_prefix(name)
    auths = objects_of(overlay, "TriggerAuthentication")
    for trigger in kafka.values():
        meta = trigger["metadata"]
        assert meta["consumerGroup"] == f"leadflow-{name}"
        assert meta["bootstrapServers"] == config[f"{prefix}KAFKA_BOOTSTRAP"]
        assert (meta["sasl"], meta["tls"]) == ("scram_sha512", "enable")
        auth = auths[trigger["authenticationRef"]["name"]]["spec"]
        params = {r["parameter"]: r for r in auth["secretTargetRef"] + auth["configMapTargetRef"]}
        assert params["username"]["key"] == f"{prefix}KAFKA_SASL_USERNAME"
        assert params["password"]["name"] == config[f"{prefix}KAFKA_SASL_USERNAME"]
        assert params["ca"]["name"] == "leadflow-cluster-ca-cert"
    pdb = objects_of(overlay, "PodDisruptionBudget")[name]
    assert (
        pdb["spec"]["selector"]["matchLabels"].items()
        <= objects_of(overlay, "Deployment")[name]["spec"]["template"]["metadata"]["labels"].items()
    )


def _ports(rule: dict[str, Any]) -> set[int]:
    return {p["port"] for p in rule.get("ports", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_each_service_talks_only_to_what_it_needs(overlay: str, name: str) -> None:
    policies = objects_of(overlay, "NetworkPolicy")
    pod_labels = objects_of(overlay, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
    deny = policies["leadflow-services-default-deny"]["spec"]
    assert deny["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    spec = policies[name]["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    port = default_port(name)
    assert all(_ports(rule) == {port} for rule in spec["ingress"])  # only its HTTP port (API, /metrics)
    assert any(
        peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "monitoring"
        for rule in spec["ingress"]
        for peer in rule["from"]
    )
    egress = [(json.dumps(rule["to"], sort_keys=True), _ports(rule)) for rule in spec["egress"]]
    (cluster,) = objects_of(overlay, "Kafka")
    config = config_of(overlay, name)
    prefix = env_prefix(name)
    wanted = {
        "dns": ({"k8s-app": "kube-dns"}, {53}),
        "kafka": ({"strimzi.io/cluster": cluster, "strimzi.io/broker-role": "true"}, {9093}),
        "postgres": ({"cnpg.io/cluster": config[f"{prefix}POSTGRES_HOST"].removesuffix("-rw")}, {5432}),
    }
    for what, (labels, ports) in wanted.items():
        assert any(json.dumps(labels, sort_keys=True) in to and p == ports for to, p in egress), what
    internet = {p for to, ps in egress if "0.0.0.0/0" in to for p in ps}
    # the identity provider's JWKS over HTTPS; sequence also sends mail over SMTP
    assert internet == ({443, int(config["SEQUENCE_SMTP_PORT"])} if name == "sequence" else {443})
    if name == "sequence":
        assert any('"app.kubernetes.io/name": "intake"' in to and p == {8001} for to, p in egress)
    listener_peers = objects_of(overlay, "Kafka")[cluster]["spec"]["kafka"]["listeners"][0]["networkPolicyPeers"]
    assert any(p.get("podSelector", {}).get("matchLabels", {}).items() <= pod_labels.items() for p in listener_peers)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_prometheus_scrapes_each_service(overlay: str, name: str) -> None:
    monitor = objects_of(overlay, "ServiceMonitor")[name]
    service = objects_of(overlay, "Service")[name]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert set(objects_of(overlay, "PrometheusRule")) == {"leadflow"}


# --- deploy/docker/Dockerfile -------------------------------------------------------------------


def test_dockerfile_runs_a_service_module_as_a_non_root_user() -> None:
    lines = (REPO / "deploy/docker/Dockerfile").read_text().replace("\\\n", " ").splitlines()
    instructions = [line.split(None, 1) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    by_name: dict[str, list[str]] = {}
    for name, argument in instructions:
        by_name.setdefault(name.upper(), []).append(argument.strip())
    assert all(f.startswith("python:3.11-slim") for f in by_name["FROM"]) and len(by_name["FROM"]) >= 2
    assert json.loads(by_name["ENTRYPOINT"][-1]) == ["python", "-m"]
    (module,) = json.loads(by_name["CMD"][-1])
    assert is_service_module(module)
    assert by_name["USER"][-1].split(":")[0] == "10001"  # the uid the pods' runAsUser names
    environment = " ".join(by_name["ENV"])
    for name in SERVICES:
        assert f"{env_prefix(name)}HTTP_HOST=0.0.0.0" in environment
    install = " ".join(by_name["RUN"])
    assert "-c constraints.txt" in install and not re.search(r"\s(-e|--editable)\s", install)
    assert all(f"./services/{name}" in install for name in SERVICES) and "./shared" in install


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", ".run", "deploy/kafka/lib", ".git"} <= ignored
