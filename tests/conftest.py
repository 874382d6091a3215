"""Session-wide infrastructure fixtures shared by unit, integration and e2e tests.

Kafka and PostgreSQL come from testcontainers when a Docker engine answers,
otherwise from ``leadflow_tools`` (plain processes). Set
``LEADFLOW_INFRA=local`` or ``LEADFLOW_INFRA=docker`` to force one of them.
Missing infrastructure fails the run: these tests are never skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

_REPO = Path(__file__).resolve().parent.parent
try:
    import leadflow_shared  # noqa: F401
except ImportError:
    # Until the package is installed into the venv, import it from the source tree.
    sys.path.insert(0, str(_REPO / "shared"))

from leadflow_tools import LocalKafka, LocalPostgres, free_port  # noqa: E402
from leadflow_tools.postgres import PortTaken, create_database, drop_database  # noqa: E402
from leadflow_tools.smtp import SmtpCatcher  # noqa: E402

LOCAL_POSTGRES_PORT = 55432


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("LEADFLOW_RECORD_EVENTS"):
        import golden_events

        golden_events.start_recording()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("LEADFLOW_RECORD_EVENTS"):
        import golden_events

        print(f"\ngolden events: {golden_events.write()} new topics recorded in {golden_events.GOLDEN}")


@cache
def docker_available() -> bool:
    """True if a Docker engine answers ``docker info`` within 5 s (or LEADFLOW_INFRA says so)."""
    forced = os.environ.get("LEADFLOW_INFRA", "auto").lower()
    if forced in ("local", "docker"):
        return forced == "docker"
    try:
        result = subprocess.run(
            ["docker", "info"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _session_dir(kind: str) -> Path:
    """A run folder for this session's servers under .run/ — not under pytest's basetemp,
    which another concurrent pytest session may rotate away while our servers still use it."""
    path = _REPO / ".run" / "test-sessions" / f"{kind}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers ("host:port") of a broker living for the whole session."""
    if docker_available():
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:  # older testcontainers layout
            from testcontainers.kafka import KafkaContainer

        try:
            container = KafkaContainer().with_kraft().start()
        except Exception as exc:
            pytest.fail(f"Docker is available but the Kafka container failed to start: {exc}")
        try:
            yield container.get_bootstrap_server()
        finally:
            container.stop()
        return

    # Ephemeral ports and a private run dir: concurrent sessions never collide.
    kafka = LocalKafka(
        port=free_port(),
        controller_port=free_port(),
        run_dir=_session_dir("kafka"),
    )
    try:
        kafka.start(timeout=90)
    except Exception as exc:
        kafka.stop()
        pytest.fail(
            "No Docker engine and the local Kafka broker failed to start "
            f"(needs Java 17+ and Maven for deploy/kafka/fetch.sh): {exc}"
        )
    try:
        yield kafka.bootstrap
    finally:
        kafka.stop()
        shutil.rmtree(kafka.run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_conninfo() -> Iterator[dict[str, Any]]:
    """Server-level connection parameters: ``{host, port, user, password}``."""
    if docker_available():
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:  # older testcontainers layout
            from testcontainers.postgres import PostgresContainer

        try:
            container = PostgresContainer("postgres:15").start()
        except Exception as exc:
            pytest.fail(f"Docker is available but the PostgreSQL container failed to start: {exc}")
        try:
            yield {
                "host": container.get_container_host_ip(),
                "port": int(container.get_exposed_port(5432)),
                "user": container.username,
                "password": container.password,
            }
        finally:
            container.stop()
        return

    pg = LocalPostgres(port=LOCAL_POSTGRES_PORT)
    try:
        pg.start()
    except PortTaken:
        # Another checkout's cluster holds the usual port: run a private one for this session.
        private = LocalPostgres(port=free_port(), run_dir=_session_dir("postgres"))
        try:
            private.start()
        except Exception as exc:
            pytest.fail(f"No Docker engine and the local PostgreSQL failed to start: {exc}")
        try:
            yield private.conninfo
        finally:
            private.stop()
            shutil.rmtree(private.run_dir, ignore_errors=True)
        return
    except Exception as exc:
        pytest.fail(f"No Docker engine and the local PostgreSQL failed to start: {exc}")
    # Deliberately left running: the next session reuses it and starts instantly.
    # Stop it with deploy/postgres/stop.sh.
    yield pg.conninfo


@pytest.fixture
def postgres_database(postgres_conninfo: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A fresh, uniquely named database for one test, dropped afterwards.

    Returns the server conninfo plus ``dbname``.
    """
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(postgres_conninfo, name)
    try:
        yield {**postgres_conninfo, "dbname": name}
    finally:
        drop_database(postgres_conninfo, name)


@pytest.fixture
def smtp_catcher(tmp_path: Path) -> Iterator[SmtpCatcher]:
    """An SMTP server on a free port for one test, keeping what it receives (`messages`,
    `wait_for`) and writing each e-mail to `<tmp_path>/mail/<n>.eml`; `refuse(address)` makes it
    answer 550 for a recipient."""
    catcher = SmtpCatcher(tmp_path / "mail")
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()
