"""The deployment files agree with the code: module names, ports, probes, production mode, topics.

Reads docker-compose.yml, every YAML file under k8s/ and deploy/docker/Dockerfile. PyYAML is
used when it is installed; otherwise `load_yaml_subset` below reads the plain block style these
files are written in (and fails loudly on anything else), so the checks still run.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadflow_shared.settings import ServiceSettings
from leadflow_shared.topics import ALL_TOPICS

try:
    import yaml
except ImportError:  # not in requirements-dev.txt yet
    yaml = None

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "assignment", "sequence", "referral")
CONSUMING = ("intake", "assignment")  # the services whose Deployments run 2 replicas


# --- a loader for the YAML these files use ------------------------------------------------------

_INT = re.compile(r"-?\d+$")


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _scalar(text: str) -> Any:
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if text[:1] in "{[&*!|>%@`":
        raise ValueError(f"outside the supported YAML subset: {text!r}")
    if text in ("", "~", "null"):
        return None
    if text in ("true", "false"):
        return text == "true"
    return int(text) if _INT.match(text) else text


def _split_key(text: str) -> tuple[str, str] | None:
    """`key: value` → (key, value); None when the text is not a mapping entry."""
    match = re.match(r"""("[^"]*"|'[^']*'|[^\s"'#][^:]*?):(?:\s+(.*))?$""", text)
    if match is None:
        return None
    return str(_scalar(match.group(1))), (match.group(2) or "").strip()


def _parse(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        items: list[Any] = []
        while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
            rest = lines[i][1][1:].lstrip()
            if not rest:
                value, i = _parse(lines, i + 1, lines[i + 1][0])
            elif _split_key(rest) is not None:  # "- key: value" opens a mapping inside the item
                lines[i] = (indent + len(lines[i][1]) - len(rest), rest)
                value, i = _parse(lines, i, lines[i][0])
            else:
                value, i = _scalar(rest), i + 1
            items.append(value)
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        entry = _split_key(lines[i][1])
        if entry is None:
            raise ValueError(f"outside the supported YAML subset: {lines[i][1]!r}")
        key, rest = entry
        i += 1
        if rest:
            mapping[key] = _scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))):
            mapping[key], i = _parse(lines, i, lines[i][0])
        else:
            mapping[key] = None
    return mapping, i


def load_yaml_subset(text: str) -> list[Any]:
    """Documents of block-style YAML: mappings, sequences, plain or quoted scalars, `{}`/`[]`."""
    documents: list[list[tuple[int, str]]] = [[]]
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if line.strip() == "---":
            documents.append([])
        elif line.strip():
            documents[-1].append((len(line) - len(line.lstrip(" ")), line.strip()))
    loaded = []
    for lines in filter(None, documents):
        value, end = _parse(lines, 0, lines[0][0])
        if end != len(lines):
            raise ValueError(f"outside the supported YAML subset: {lines[end][1]!r}")
        loaded.append(value)
    return loaded


def load_documents(path: Path) -> list[Any]:
    text = path.read_text()
    if yaml is not None:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    return load_yaml_subset(text)


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


DEFAULT_PARTITIONS = ServiceSettings.model_fields["lead_topic_partitions"].default


def test_the_services_named_here_are_the_service_packages() -> None:
    on_disk = {p.parent.name for p in (REPO / "services").glob("*/*/__main__.py")}
    assert on_disk == set(SERVICES)


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


@pytest.mark.parametrize("name", SERVICES)
def test_compose_runs_each_service_from_the_image_in_production_mode(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    prefix = env_prefix(name)
    env = compose_env(service)
    assert env[f"{prefix}MODE"] == "production"
    # production mode refuses to start without these two
    assert env[f"{prefix}KAFKA_BOOTSTRAP"] and env[f"{prefix}POSTGRES_HOST"]
    assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0"
    assert service["command"] == [name] and is_service_module(name)
    # and the service's own settings accept the whole environment in production mode
    production_settings(name, {k: _substituted(v) for k, v in env.items()})
    assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]) == REPO / "deploy/docker/Dockerfile"


@pytest.mark.parametrize("name", SERVICES)
def test_compose_health_checks_ask_readyz_on_the_service_port(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    port = default_port(name)
    assert compose_env(service)[f"{env_prefix(name)}HTTP_PORT"] == str(port)
    assert f"{port}:{port}" in service["ports"]
    assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
    for dependency in ("kafka", "postgres"):
        assert service["depends_on"][dependency]["condition"] == "service_healthy"
        assert compose["services"][dependency]["healthcheck"]["test"]


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


# --- k8s/ ---------------------------------------------------------------------------------------


def k8s_files() -> list[Path]:
    return sorted(p for p in (REPO / "k8s").rglob("*") if p.suffix in (".yaml", ".yml"))


def k8s_objects() -> Iterator[dict[str, Any]]:
    for path in k8s_files():
        if path.stem != "kustomization":
            yield from load_documents(path)


def objects_of(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == kind}


def test_every_k8s_file_parses_and_is_listed_in_its_kustomization() -> None:
    assert k8s_files()
    for path in k8s_files():
        documents = load_documents(path)
        assert documents, path
        if path.stem == "kustomization":
            listed = {path.parent / r for r in documents[0]["resources"]}
            assert all(r.exists() for r in listed), path
            siblings = {p for p in path.parent.glob("*.yaml") if p.stem != "kustomization"}
            assert siblings <= listed, f"{path}: not listed: {sorted(map(str, siblings - listed))}"
        else:
            for document in documents:
                assert document["apiVersion"] and document["kind"] and document["metadata"]["name"], path


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_deployment_probes_readyz_and_runs_its_module(name: str) -> None:
    deployment = objects_of("Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = default_port(name)
    assert container["args"] == [name] and is_service_module(name)
    assert container["image"].split(":")[0] == "leadflow"
    assert "command" not in container  # keep the image's `python -m` entrypoint
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["terminationGracePeriodSeconds"] == 15
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_has_a_service_and_its_configuration(name: str) -> None:
    deployment = objects_of("Deployment")[name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    service = objects_of("Service")[name]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"

    prefix = env_prefix(name)
    (source,) = container["envFrom"]
    config = objects_of("ConfigMap")[source["configMapRef"]["name"]]["data"]
    assert config[f"{prefix}MODE"] == "production"
    assert config[f"{prefix}KAFKA_BOOTSTRAP"] and config[f"{prefix}POSTGRES_HOST"]
    assert config[f"{prefix}HTTP_HOST"] == "0.0.0.0" and config[f"{prefix}HTTP_PORT"] == str(default_port(name))
    secrets = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"]}
    optional = {n: ref for n, ref in secrets.items() if ref.get("optional")}
    assert set(secrets) - set(optional) == {f"{prefix}POSTGRES_PASSWORD", f"{prefix}KAFKA_SASL_PASSWORD"}
    # sequence's mailer: its SMTP login and intake key, secrets an operator adds (optional: without
    # them the service starts, and /readyz names the mailer while e-mails wait)
    assert set(optional) == (
        {f"{prefix}SMTP_USERNAME", f"{prefix}SMTP_PASSWORD", f"{prefix}INTAKE_API_KEY"} if name == "sequence" else set()
    )
    fields = settings_class(name).model_fields
    unknown = [n for n in [*secrets, *config] if n.startswith(prefix) and n.removeprefix(prefix).lower() not in fields]
    assert not unknown, f"settings {name} does not read: {unknown}"
    postgres = secrets[f"{prefix}POSTGRES_PASSWORD"]
    assert postgres["key"] in objects_of("Secret")[postgres["name"]]["stringData"]
    # the Kafka password is the one Strimzi generates for the service's KafkaUser
    assert secrets[f"{prefix}KAFKA_SASL_PASSWORD"]["name"] == config[f"{prefix}KAFKA_SASL_USERNAME"]
    assert config[f"{prefix}KAFKA_SASL_USERNAME"] in strimzi_users()
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(Path(config[f"{prefix}KAFKA_SSL_CAFILE"]).parent) in mounts
    # and the service's own settings accept the whole configuration in production mode
    production_settings(name, {**config, **{k: "from-a-secret" for k in secrets}})


def test_replicas_stay_within_the_partition_count() -> None:
    deployments = objects_of("Deployment")
    for name in SERVICES:
        expected = 2 if name in CONSUMING else 1
        assert deployments[name]["spec"]["replicas"] == expected <= DEFAULT_PARTITIONS


def test_every_topic_has_a_kafka_topic() -> None:
    topics = {t["spec"].get("topicName", name): t for name, t in objects_of("KafkaTopic").items()}
    assert set(ALL_TOPICS) <= set(topics), f"missing: {sorted(set(ALL_TOPICS) - set(topics))}"
    clusters = set(objects_of("Kafka"))
    for topic in topics.values():
        assert topic["spec"]["partitions"] == DEFAULT_PARTITIONS
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] in clusters


def test_strimzi_cluster_runs_kraft_node_pools_without_auto_created_topics() -> None:
    (cluster,) = objects_of("Kafka").values()
    pools = objects_of("KafkaNodePool").values()
    assert pools and all(p["metadata"]["labels"]["strimzi.io/cluster"] == cluster["metadata"]["name"] for p in pools)
    assert {"controller", "broker"} <= {role for p in pools for role in p["spec"]["roles"]}
    assert cluster["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False


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
    assert by_name["USER"][-1].split(":")[0] not in ("root", "0")
    environment = " ".join(by_name["ENV"])
    for name in SERVICES:
        assert f"{env_prefix(name)}HTTP_HOST=0.0.0.0" in environment
    install = " ".join(by_name["RUN"])
    assert "-c constraints.txt" in install and not re.search(r"\s(-e|--editable)\s", install)
    assert all(f"./services/{name}" in install for name in SERVICES) and "./shared" in install


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", ".run", "deploy/kafka/lib", ".git"} <= ignored


@pytest.mark.skipif(yaml is None, reason="PyYAML is not installed: nothing to compare the subset loader with")
def test_subset_loader_reads_the_files_as_pyyaml_does() -> None:
    for path in [REPO / "docker-compose.yml", *k8s_files()]:
        assert load_yaml_subset(path.read_text()) == [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def production_settings(name: str, env: dict[str, str]) -> Any:
    """The service's settings class reading exactly this environment (raises if refused)."""
    cls = settings_class(name)
    prefix = env_prefix(name)
    fields = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    settings = cls(**fields)
    assert settings.mode == "production"
    return settings


def _substituted(value: str) -> str:
    """A compose `${VAR:-default}` as deployed with VAR unset (its default), `${VAR:?message}` as
    deployed with VAR set."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "set-at-deploy-time", value)


def strimzi_users() -> set[str]:
    users = load_documents(REPO / "k8s" / "strimzi" / "users.yaml")
    return {u["metadata"]["name"] for u in users if u["kind"] == "KafkaUser"}
