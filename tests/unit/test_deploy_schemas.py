"""The deployment files are valid for the tools that read them, checked by maintained validators.

- docker-compose.yml against the Compose Specification's JSON schema (check-jsonschema's vendored
  `vendor.compose-spec`), and brought up for real where a Docker engine answers;
- every object each k8s/ overlay renders: core kinds with kubernetes-validate (strict: unknown fields
  fail), custom resources against their operators' own CRD schemas made strict
  (leadflow_tools.k8s_schemas fetches them from the Go module proxy and Maven Central into .run/ once;
  when it cannot, the test fails with the reason -- it never skips).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from leadflow_tools.k8s_schemas import CrdSchemas, kustomize_build, load_crd_schemas

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.33"
SERVICE_PORTS = {"intake": 8001, "assignment": 8002, "sequence": 8003, "referral": 8004}


def test_compose_file_follows_the_compose_specification() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_schema_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text(
        (REPO / "docker-compose.yml").read_text().replace("condition: service_healthy", "condition: healthy", 1)
    )
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1 and "healthy" in done.stdout, done.stdout + done.stderr


@functools.cache
def crd_schemas() -> CrdSchemas:
    return load_crd_schemas()  # raises CrdUnavailable (with the tool's output) when it cannot fetch


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize_build(REPO / "k8s" / "overlays" / overlay))


def schema_errors(obj: dict[str, Any]) -> list[str]:
    if crd_schemas().schema_for(obj["apiVersion"], obj["kind"]) is not None:
        return crd_schemas().errors(obj)
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'/'.join(map(str, exc.path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"no schema: {exc}"]
    return []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_strictly(overlay: str) -> None:
    invalid = {
        f"{o['kind']}/{o['metadata']['name']}": errors for o in rendered(overlay) if (errors := schema_errors(o))
    }
    assert not invalid, invalid


def test_every_custom_resource_kind_has_its_crd_schema() -> None:
    core = ("v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1")
    kinds = {(o["apiVersion"], o["kind"]) for overlay in OVERLAYS for o in rendered(overlay)}
    custom = {k for k in kinds if k[0] not in core}
    assert custom == {
        ("kafka.strimzi.io/v1", "Kafka"),
        ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"),
        ("kafka.strimzi.io/v1", "KafkaUser"),
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("keda.sh/v1alpha1", "TriggerAuthentication"),
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    }
    assert all(crd_schemas().schema_for(*k) is not None for k in custom)


@pytest.mark.parametrize(
    ("kind", "mistake"),
    [
        ("Deployment", lambda o: o["spec"]["template"]["spec"]["containers"][0].update(readinesProbe={})),
        ("KafkaTopic", lambda o: o["spec"].update(replica=3)),
        ("KafkaUser", lambda o: o["spec"]["authorization"]["acls"][0].update(operation="Read")),
        ("ScaledObject", lambda o: o["spec"]["advanced"]["horizontalPodAutoscalerConfig"].update(nam="x")),
        ("Cluster", lambda o: o["spec"].update(instances="3")),
        ("ServiceMonitor", lambda o: o["spec"]["endpoints"][0].update(paht="/metrics")),
        ("PrometheusRule", lambda o: o["spec"]["groups"][0]["rules"][0].update(expresion="up")),
    ],
)
def test_strict_validation_catches_a_misspelt_field(kind: str, mistake: Any) -> None:
    import copy

    obj = copy.deepcopy(next(o for o in rendered("prod") if o["kind"] == kind))
    assert not schema_errors(obj)
    mistake(obj)
    assert schema_errors(obj)


# --- the real thing -----------------------------------------------------------------------------


def _docker_engine() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "no `docker` command on this machine"
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`docker info` failed: {exc}"
    if done.returncode != 0:
        return "no Docker engine answers `docker info`: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return None


@pytest.mark.timeout(1500)
def test_compose_brings_the_whole_system_up() -> None:
    reason = _docker_engine()
    if reason is not None:
        pytest.skip(f"docker compose up --wait not run: {reason}")
    project = f"leadflow-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "LEADFLOW_AUTH_ISSUER": "https://id.example.com/realms/test",
        "LEADFLOW_AUTH_JWKS_URL": "https://id.example.com/realms/test/certs",
    }
    compose = ["docker", "compose", "--project-name", project, "--file", str(REPO / "docker-compose.yml")]
    try:
        up = subprocess.run(
            [*compose, "up", "--build", "--detach", "--wait", "--wait-timeout", "900"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if up.returncode != 0:
            logs = subprocess.run(
                [*compose, "logs", "--tail", "50"], cwd=REPO, env=env, capture_output=True, text=True, check=False
            )
            pytest.fail(f"docker compose up --wait failed:\n{up.stderr[-4000:]}\n{logs.stdout[-8000:]}")
        for name, port in SERVICE_PORTS.items():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
                assert response.status == 200, name
        with urllib.request.urlopen("http://127.0.0.1:9090/api/v1/targets?state=active", timeout=10) as response:
            targets = response.read().decode()
        for name in SERVICE_PORTS:
            assert f'"job":"{name}"' in targets, name
    finally:
        subprocess.run(
            [*compose, "down", "--volumes", "--remove-orphans"],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
