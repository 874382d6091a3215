"""The four services as processes, and `make run`: Kafka, stores, services and a demo.

`ServiceStack` is reused by the e2e tests and the benchmark: it starts `python -m <service>`
for intake, assignment, sequence and referral with one environment (broker, run folder,
ports, topic prefix, SQLite or PostgreSQL stores, the SMTP server for sequence's e-mails),
waits until every `/readyz` answers 200 and stops them with SIGTERM (SIGKILL after 10 s).
Each service logs to `<run_dir>/logs/<service>.log`. A service may run as several replicas
(`replicas={"assignment": 3}`, PostgreSQL stores only: the replicas share the service's database
and consumer group): replica 0 is the service as above, replica n ≥ 1 gets a port of its own and
logs to `<service>-<n>.log`. The service's bootstrap runs once first, in a process of its own, to
create the tables; then all replicas start at once, told not to create them. Once intake is
ready, the stack gets
sequence an intake API key of scope `leads:contact` (its mailer reads a lead's personal fields
from intake at send time), written to `<run_dir>/secrets/sequence-intake.key`.

`python -m leadflow_tools.stack` is `make run`: it starts what is missing (an SMTP catcher
among them, whose e-mails land in `.run/mail/<n>.eml`), sends 100 demo leads, prints what
happened to them, and runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any
from uuid import UUID

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from leadflow_shared.auth import devissuer
from leadflow_shared.contracts import LeadAssignedV1

from . import demo
from ._paths import repo_root, run_root
from .kafka import LocalKafka, _port_open, _tail, free_port
from .postgres import LocalPostgres, create_database, drop_database
from .smtp import DEFAULT_PORT as SMTP_PORT
from .smtp import SmtpCatcher, count_captured, mail_folder

SERVICES = ("intake", "assignment", "sequence", "referral")
DEFAULT_PORTS: Mapping[str, int] = {"intake": 8001, "assignment": 8002, "sequence": 8003, "referral": 8004}
STOP_TIMEOUT = 10.0
SMTP_SENDER = "Leadflow <leadflow@localhost>"
SEQUENCE_INTAKE_SCOPE = "leads:contact"
"""What sequence's key may do on intake: read a lead's contact to address an e-mail."""


@dataclass(frozen=True)
class PostgresStores:
    """Where the services keep their event stores when PostgreSQL is used."""

    host: str
    port: int
    user: str
    password: str = ""
    databases: Mapping[str, str] = field(default_factory=dict)
    """service → database name; a service not named here uses its own name."""

    @classmethod
    def from_conninfo(cls, conninfo: Mapping[str, Any], databases: Mapping[str, str] | None = None) -> PostgresStores:
        return cls(
            host=str(conninfo["host"]),
            port=int(conninfo["port"]),
            user=str(conninfo["user"]),
            password=str(conninfo.get("password") or ""),
            databases=dict(databases or {}),
        )

    @classmethod
    @contextlib.contextmanager
    def fresh(cls, conninfo: Mapping[str, Any], services: Iterable[str], tag: str) -> Iterator[PostgresStores]:
        """New databases `<tag>_<random>_<service>` on the server, dropped on leaving (tests)."""
        unique = f"{tag}_{uuid.uuid4().hex[:8]}"
        databases = {service: f"{unique}_{service}" for service in services}
        for name in databases.values():
            create_database(conninfo, name)
        try:
            yield cls.from_conninfo(conninfo, databases)
        finally:
            for name in databases.values():
                drop_database(conninfo, name)

    def database(self, service: str) -> str:
        return self.databases.get(service, service)

    def settings_of(self, service: str) -> dict[str, Any]:
        """The `postgres_*` settings fields of one service's database."""
        return {
            "postgres_host": self.host,
            "postgres_port": self.port,
            "postgres_user": self.user,
            "postgres_password": self.password,
            "postgres_dbname": self.database(service),
        }

    @property
    def conninfo(self) -> dict[str, Any]:
        """Server-level connection parameters (for create_database and friends)."""
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password}

    def dsn(self, service: str) -> str:
        """libpq connection string of one service's database."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=self.database(service)
        )


class ServiceStack:
    """The four leadflow services as separate processes sharing one configuration."""

    def __init__(
        self,
        *,
        bootstrap: str,
        run_dir: Path,
        topic_prefix: str = "",
        ports: Mapping[str, int] | None = None,
        postgres: PostgresStores | None = None,
        roster_file: Path | None = None,
        lead_topic_partitions: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        services: tuple[str, ...] = SERVICES,
        smtp: tuple[str, int] | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.run_dir = Path(run_dir)
        self.topic_prefix = topic_prefix
        self.ports = {name: (ports or DEFAULT_PORTS)[name] for name in services}
        self.postgres = postgres
        self.roster_file = roster_file
        self.lead_topic_partitions = lead_topic_partitions
        self.extra_env = dict(extra_env or {})
        self.services = services
        self.smtp = smtp
        """(host, port) of the SMTP server sequence hands its e-mails to (plain, no login)."""
        self.replicas = {name: int((replicas or {}).get(name, 1)) for name in services}
        """service → how many processes run it (one consumer group, one store)."""
        if any(n < 1 for n in self.replicas.values()):
            raise ValueError(f"a service runs as at least one process: {self.replicas}")
        if postgres is None and any(n > 1 for n in self.replicas.values()):
            raise ValueError("replicas share their service's store: they need PostgreSQL stores")
        # Replica 0 uses `ports`; the others get free ports of their own, kept across restarts.
        self._replica_ports = {
            (name, replica): free_port() for name, count in self.replicas.items() for replica in range(1, count)
        }
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._killed: set[str] = set()

    # -- addresses -----------------------------------------------------------------

    @staticmethod
    def process_name(service: str, replica: int = 0) -> str:
        """`assignment` for replica 0, `assignment-2` for replica 2 (log files, exit codes)."""
        return service if replica == 0 else f"{service}-{replica}"

    def port(self, service: str, replica: int = 0) -> int:
        return self.ports[service] if replica == 0 else self._replica_ports[(service, replica)]

    def url(self, service: str, replica: int = 0) -> str:
        return f"http://127.0.0.1:{self.port(service, replica)}"

    def headers(self, role: str = "admin", subject: str | None = None, **claims: Any) -> dict[str, str]:
        """A bearer token of the stack's development issuer (embedded mode), for `role`."""
        token = devissuer.issue(self.run_dir, subject=subject or f"stack-{role}", roles=[role], **claims)
        return {"Authorization": f"Bearer {token}"}

    def client(self, service: str, role: str = "admin", timeout: float = 10.0, replica: int = 0) -> httpx.AsyncClient:
        """An HTTP client for one service, as `role`, that waits out 429s as Retry-After says."""
        return httpx.AsyncClient(
            base_url=self.url(service, replica),
            timeout=timeout,
            headers=self.headers(role),
            transport=_PatientTransport(httpx.AsyncHTTPTransport()),
        )

    def log_file(self, service: str, replica: int = 0) -> Path:
        return self.run_dir / "logs" / f"{self.process_name(service, replica)}.log"

    @property
    def sequence_intake_key_file(self) -> Path:
        """sequence's API key for intake (written once intake is ready; sequence reads it when needed)."""
        return self.run_dir / "secrets" / "sequence-intake.key"

    def pid(self, service: str, replica: int = 0) -> int | None:
        proc = self._procs.get(self.process_name(service, replica))
        return proc.pid if proc is not None and proc.poll() is None else None

    def pids(self, service: str) -> list[int | None]:
        """The pid of each replica of `service` (None where it is not running)."""
        return [self.pid(service, replica) for replica in range(self.replicas[service])]

    def env_for(self, service: str, replica: int = 0) -> dict[str, str]:
        """The process environment of one service: ours plus its prefixed settings."""
        prefix = service.upper() + "_"
        settings: dict[str, str] = {
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "HTTP_PORT": str(self.port(service, replica)),
            "RUN_DIR": str(self.run_dir),
            "TOPIC_PREFIX": self.topic_prefix,
            # The prefix keeps consumer groups of concurrent stacks apart, like their topics.
            "CONSUMER_GROUP": f"{self.topic_prefix}leadflow-{service}",
        }
        if self.lead_topic_partitions is not None:
            settings["LEAD_TOPIC_PARTITIONS"] = str(self.lead_topic_partitions)
        if self.postgres is not None:
            settings |= {
                "POSTGRES_HOST": self.postgres.host,
                "POSTGRES_PORT": str(self.postgres.port),
                "POSTGRES_USER": self.postgres.user,
                "POSTGRES_PASSWORD": self.postgres.password,
                "POSTGRES_DBNAME": self.postgres.database(service),
            }
        if service == "assignment" and self.roster_file is not None:
            settings["ROSTER_FILE"] = str(self.roster_file)
        if service == "sequence" and self.smtp is not None:
            host, port = self.smtp
            settings |= {
                "SMTP_HOST": host,
                "SMTP_PORT": str(port),
                "SMTP_STARTTLS": "false",
                "SMTP_SENDER": SMTP_SENDER,
            }
        if service == "sequence" and "intake" in self.ports:
            settings["INTAKE_URL"] = self.url("intake")
            settings["INTAKE_API_KEY_FILE"] = str(self.sequence_intake_key_file)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env |= {prefix + key: value for key, value in settings.items()}
        env |= self.extra_env
        return env

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> None:
        """Start every service and wait until all are ready; stops them all on failure."""
        devissuer.ensure_keys(self.run_dir)  # once, before the services read it
        try:
            for service in self.services:
                for replica in range(self.replicas[service]):
                    self.start_service(service, replica)
            self.wait_ready(timeout=timeout)
            if {"intake", "sequence"} <= set(self.services):
                self.provision_sequence_key()
        except BaseException:
            self.stop()
            raise

    def start_service(self, service: str, replica: int = 0) -> None:
        """Start (or restart) one service process; its log is appended to, not replaced."""
        name = self.process_name(service, replica)
        if self.pid(service, replica) is not None:
            raise RuntimeError(f"{name} is already running (pid {self.pid(service, replica)})")
        port = self.port(service, replica)
        if _port_open(port):
            raise RuntimeError(f"cannot start {name}: port {port} is already in use by another process")
        log_path = self.log_file(service, replica)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log(name)
        log = log_path.open("ab")
        log.write(f"--- starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        self._logs[name] = log
        self._killed.discard(name)
        self._procs[name] = subprocess.Popen(
            [sys.executable, "-m", service],
            env=self.env_for(service, replica),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a terminal's Ctrl-C reaches only us, and we stop the services in order.
            start_new_session=True,
        )

    def wait_ready(
        self, timeout: float = 90.0, services: tuple[str, ...] | None = None, probe: str = "/readyz"
    ) -> None:
        """Wait until each service's /readyz (or `probe`) answers 200; raise with its log tail if not.

        Every started replica of each service is waited for, except those `kill` stopped and
        nothing started again."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            for service in services or self.services:
                for replica in range(self.replicas[service]):
                    name = self.process_name(service, replica)
                    if name in self._procs and name not in self._killed:
                        self._wait_one_ready(client, service, replica, deadline, timeout, probe)

    def _wait_one_ready(
        self, client: httpx.Client, service: str, replica: int, deadline: float, timeout: float, probe: str
    ) -> None:
        name = self.process_name(service, replica)
        proc = self._procs[name]
        last = "no answer yet"
        while True:
            code = proc.poll()
            if code is not None:
                raise RuntimeError(f"{name} exited with code {code} while starting; {self._log_tail(service, replica)}")
            try:
                response = client.get(self.url(service, replica) + probe)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name} not ready on {self.url(service, replica)} after {timeout:.0f}s ({last}); "
                    + self._log_tail(service, replica)
                )
            time.sleep(0.2)

    def provision_sequence_key(self) -> Path:
        """Create an intake API key of scope `leads:contact` for sequence (as an admin of the
        development issuer) and write it to `sequence_intake_key_file`, mode 0600, atomically. A
        key already there that intake still takes is kept, so restarts do not pile up keys."""
        path = self.sequence_intake_key_file
        with httpx.Client(base_url=self.url("intake"), timeout=5.0) as client:
            if path.exists() and _intake_takes(client, path.read_text().strip()):
                return path
            body = {"name": "sequence mailer", "scopes": [SEQUENCE_INTAKE_SCOPE]}
            created = _patiently(
                client, "POST", "/v1/api-keys", json=body, headers=self.headers("admin", "leadflow-stack")
            )
            if created.status_code != 201:
                raise RuntimeError(f"intake refused sequence's API key: {created.status_code} {created.text[:300]}")
            _write_secret(path, created.json()["key"])
        return path

    def kill(self, service: str, sig: signal.Signals = signal.SIGKILL, replica: int = 0) -> None:
        """Send `sig` to one service (one replica of it) and reap it (the chaos tests' crash)."""
        name = self.process_name(service, replica)
        proc = self._procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout=STOP_TIMEOUT)
        self._killed.add(name)

    def stop(self, timeout: float = STOP_TIMEOUT) -> dict[str, int | None]:
        """SIGTERM every running service, wait up to `timeout`, SIGKILL stragglers.

        Returns each process's exit code (None if it had to be killed), by `process_name`.
        Idempotent.
        """
        running = {name: proc for name, proc in self._procs.items() if proc.poll() is None}
        for proc in running.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for name, proc in running.items():
            try:
                codes[name] = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes[name] = None
        for name in list(self._logs):
            self._close_log(name)
        return codes

    def __enter__(self) -> ServiceStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_log(self, service: str) -> None:
        log = self._logs.pop(service, None)
        if log is not None:
            log.close()

    def _log_tail(self, service: str, replica: int = 0) -> str:
        path = self.log_file(service, replica)
        return f"last lines of {path}:\n{_tail(path)}"


def _patiently(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request sent again after the Retry-After of a 429 (the services' own rate limit)."""
    for _ in range(30):
        response = client.request(method, path, **kwargs)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("retry-after", "1")))
    return response


def _intake_takes(client: httpx.Client, key: str) -> bool:
    """Does intake accept `key` for a lead's contact? (404 for a lead nobody has: yes.)"""
    probe = _patiently(client, "GET", f"/v1/leads/{UUID(int=0)}/contact", headers={"X-API-Key": key})
    return probe.status_code == 404


def _write_secret(path: Path, value: str) -> None:
    """Owner-only, and replaced in one step: a reader sees the old value or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    os.replace(partial, path)


# -- make run ---------------------------------------------------------------------


class _Stopped(Exception):
    """SIGTERM or SIGINT arrived: unwind and stop what we started."""


def _say(message: str) -> None:
    print(f"[leadflow] {message}", flush=True)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    # Further signals must not interrupt the clean-up that follows.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stopped(signal.Signals(signum).name)


def _start_kafka(cleanup: contextlib.ExitStack) -> str:
    port = int(os.environ.get("LEADFLOW_KAFKA_PORT", "9092"))
    run_dir = run_root() / ("kafka" if port == 9092 else f"kafka-{port}")
    kafka = LocalKafka(port=port, run_dir=run_dir)
    if _port_open(port):
        _say(f"kafka: reusing the broker already answering on {kafka.bootstrap}")
        return kafka.bootstrap
    _say(f"kafka: starting a local broker on {kafka.bootstrap} (run dir {_relative(run_dir)})")
    began = time.monotonic()
    cleanup.callback(_stop_kafka, kafka)  # registered first: an interrupted start is stopped too
    kafka.start(timeout=90)
    _say(f"kafka: ready in {time.monotonic() - began:.1f}s")
    return kafka.bootstrap


def _stop_kafka(kafka: LocalKafka) -> None:
    _say("kafka: stopping")
    kafka.stop()


def _start_postgres(cleanup: contextlib.ExitStack) -> PostgresStores:
    port = int(os.environ.get("LEADFLOW_POSTGRES_PORT", "55432"))
    pg = LocalPostgres(port=port)
    if pg.is_running() or _port_open(port):
        _say(f"postgres: reusing the server already answering on 127.0.0.1:{port}")
    else:
        _say(f"postgres: starting a local server on 127.0.0.1:{port}")
        cleanup.callback(_stop_postgres, pg)
        pg.start()
    for service in SERVICES:
        pg.create_database(service)
    _say(f"postgres: databases {', '.join(SERVICES)} ready")
    return PostgresStores.from_conninfo(pg.conninfo)


def _stop_postgres(pg: LocalPostgres) -> None:
    _say("postgres: stopping")
    pg.stop()


def _start_mail_catcher(cleanup: contextlib.ExitStack) -> tuple[str, int]:
    port = int(os.environ.get("LEADFLOW_SMTP_PORT", str(SMTP_PORT)))
    if _port_open(port):
        _say(f"mail: reusing the SMTP server already answering on 127.0.0.1:{port}")
        return "127.0.0.1", port
    catcher = SmtpCatcher(mail_folder(), port=port)
    cleanup.callback(catcher.stop)
    catcher.start()
    _say(f"mail: catching sequence's e-mails on 127.0.0.1:{port}, each kept as {_relative(catcher.folder)}/<n>.eml")
    return catcher.address


def _kafka_cluster_id(bootstrap: str) -> str:
    async def describe() -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-stack")
        await admin.start()
        try:
            return str((await admin.describe_cluster())["cluster_id"])
        finally:
            await admin.close()

    return asyncio.run(describe())


def _bind_stores_to_cluster(bootstrap: str, postgres: PostgresStores | None) -> None:
    """Keep the stores only while they belong to the same Kafka cluster.

    A store's tracking rows are offsets in one cluster's logs; read against a new broker
    (its run dir deleted, another port) they would make the consumers skip that many
    messages of every partition as already processed. So a store that belongs to another
    cluster is put aside (SQLite) or recreated (the local PostgreSQL databases).
    """
    cluster_id = _kafka_cluster_id(bootstrap)
    marker = run_root() / ("postgres-stores.cluster" if postgres else "stores.cluster")
    previous = marker.read_text().strip() if marker.exists() else None
    if previous is not None and previous != cluster_id:
        _say(f"stores: they belong to Kafka cluster {previous}, not {cluster_id}; starting with fresh ones")
        if postgres is None:
            stores = run_root() / "stores"
            if stores.exists():
                aside = stores.with_name(f"stores.cluster-{previous}")
                stores.rename(aside)
                _say(f"stores: the old SQLite stores are in {_relative(aside)}")
        else:
            for service in SERVICES:
                drop_database(postgres.conninfo, postgres.database(service))
                create_database(postgres.conninfo, postgres.database(service))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(cluster_id + "\n")


def _start_services(
    cleanup: contextlib.ExitStack, bootstrap: str, postgres: PostgresStores | None, smtp: tuple[str, int]
) -> ServiceStack:
    root = run_root()
    _bind_stores_to_cluster(bootstrap, postgres)
    stack = ServiceStack(
        bootstrap=bootstrap,
        run_dir=root,
        postgres=postgres,
        roster_file=repo_root() / "deploy" / "demo" / "sellers.json",
        smtp=smtp,
    )
    store = "PostgreSQL" if postgres else f"SQLite under {_relative(root / 'stores')}"
    _say(f"services: starting {', '.join(SERVICES)} ({store}; logs in {_relative(root / 'logs')})")
    began = time.monotonic()
    cleanup.callback(_stop_services, stack)
    stack.start(timeout=120)
    _say(f"services: all four ready in {time.monotonic() - began:.1f}s")
    return stack


def _stop_services(stack: ServiceStack) -> None:
    _say("services: stopping (SIGTERM)")
    codes = stack.stop()
    _say("services: stopped (" + ", ".join(f"{name} {_exit(code)}" for name, code in codes.items()) + ")")


def _exit(code: int | None) -> str:
    return "killed" if code is None else f"exit {code}"


def _relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _print_summary(stack: ServiceStack, result: demo.DemoResult, started_at: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if result.first_assigned_at is not None:
        _say(
            f"first assignment {result.first_assigned_at - started_at:.1f}s after `make run` started, "
            f"{result.first_assigned_at - result.sent_at:.2f}s after the first demo lead was sent"
        )
    _say(f"assigned: {len(result.assignments)}/{result.sent} leads in {result.all_assigned_seconds():.2f}s")
    found = _count_found(stack, result.received)
    _say(
        f"received: {len(result.received)}/{result.sent} announced on leads.events.v1, "
        f"{found}/{len(result.received)} found by GET intake /v1/leads/{{id}}"
    )
    sellers = _seller_names(stack)
    table = Table(title="leads assigned per seller")
    table.add_column("seller")
    table.add_column("name")
    table.add_column("leads", justify="right")
    for owner, count in sorted(Counter(map(_owner, result.assignments.values())).items()):
        table.add_row(owner, sellers.get(owner, ""), str(count))
    console.print(table)
    for service in stack.services:
        _say(f"{service:<10} {stack.url(service)}/docs")
    _say(f"captured e-mails: {count_captured(mail_folder())} in {_relative(mail_folder())}")


class _PatientTransport(httpx.AsyncBaseTransport):
    """Sends a request again after the Retry-After of a 429 (a well-behaved client)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, attempts: int = 30) -> None:
        self._inner, self._attempts = inner, attempts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(self._attempts):
            response = await self._inner.handle_async_request(request)
            if response.status_code != 429:
                return response
            await response.aread()
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _owner(assigned: LeadAssignedV1) -> str:
    if assigned.seller_id:
        return assigned.seller_id
    return f"team {assigned.team_id}" if assigned.team_id else "(nobody)"


def _count_found(stack: ServiceStack, lead_ids: set[UUID]) -> int:
    with httpx.Client(base_url=stack.url("intake"), timeout=5.0, headers=stack.headers()) as client:

        def found(lead_id: UUID) -> bool:
            while (response := client.get(f"/v1/leads/{lead_id}")).status_code == 429:  # our own rate limit
                time.sleep(float(response.headers.get("retry-after", "1")))
            return response.status_code == 200

        return sum(found(lead_id) for lead_id in lead_ids)


def _seller_names(stack: ServiceStack) -> dict[str, str]:
    response = httpx.get(stack.url("assignment") + "/v1/sellers", timeout=5.0, headers=stack.headers())
    response.raise_for_status()
    return {s["seller_id"]: s["name"] for s in response.json()}


DEMO_SEGMENT = "trade-show"
DEMO_SEQUENCE = {
    "name": "Trade show follow-up",
    "description": "The demo: leads met at a trade show get a thank-you e-mail at once, a call 3 business days later.",
    "steps": [
        {
            "id": "thanks",
            "type": "auto_email",
            "template": {
                "subject": "Great to meet you at the show, {{ first_name|default('there') }}",
                "body": "Hello {{ first_name|default('there') }},\n\nthank you for visiting our stand. "
                "We will call {{ company.name|default('you') }} in a few days.\n",
            },
        },
        {"id": "wait", "type": "wait", "days": 3},
        {"id": "call", "type": "call"},
    ],
}


def _demo_sequence(stack: ServiceStack) -> None:
    """What an admin does first, over the APIs: a segment in assignment (leads from trade shows), a
    sequence in sequence, linked to it — so the demo's trade-show leads are enrolled and e-mailed."""
    if "sequence" not in stack.services or "assignment" not in stack.services:
        return
    criteria = {"all_of": [{"field": "source", "op": "in", "value": ["trade-show"]}]}
    with httpx.Client(timeout=10.0, headers=stack.headers()) as client:
        client.put(
            f"{stack.url('assignment')}/v1/segments/{DEMO_SEGMENT}", json={"priority": 10, "criteria": criteria}
        ).raise_for_status()
        base = stack.url("sequence")
        existing = [s for s in client.get(f"{base}/v1/sequences").json()["items"] if s["name"] == DEMO_SEQUENCE["name"]]
        if existing:
            sequence_id = existing[0]["sequence_id"]
        else:
            sequence_id = (
                client.post(f"{base}/v1/sequences", json=DEMO_SEQUENCE).raise_for_status().json()["sequence_id"]
            )
            client.post(f"{base}/v1/sequences/{sequence_id}/activate").raise_for_status()
        client.put(f"{base}/v1/sequences/{sequence_id}/segments/{DEMO_SEGMENT}").raise_for_status()
    _say(f"sequence {DEMO_SEQUENCE['name']!r} linked to assignment's segment {DEMO_SEGMENT!r}")


def _sequence_summary(stack: ServiceStack) -> None:
    if "sequence" not in stack.services:
        return
    with httpx.Client(base_url=stack.url("sequence"), timeout=10.0, headers=stack.headers()) as client:
        for item in client.get("/v1/sequences").json()["items"]:
            figures = client.get(f"/v1/sequences/{item['sequence_id']}/figures").json()
            _say(f"sequence {item['name']!r}: {figures.get('connected', 0)} leads connected")


def _run_demo(stack: ServiceStack, started_at: float) -> None:
    _demo_sequence(stack)
    result = asyncio.run(demo.run(stack.bootstrap, topic_prefix=stack.topic_prefix, progress=_say))
    time.sleep(3.0)  # the mailer sends within a second or two of enrolment
    _sequence_summary(stack)
    _print_summary(stack, result, started_at)
    if len(result.assignments) < result.sent:
        _say(f"warning: only {len(result.assignments)} of {result.sent} leads were assigned; see the service logs")


def _wait_for_signal() -> None:
    _say("running; press Ctrl-C to stop everything")
    while True:
        signal.pause()


def main() -> int:
    """`make run`: start what is missing, run the demo, serve until Ctrl-C/SIGTERM, stop."""
    started_at = time.monotonic()
    signal.signal(signal.SIGINT, _raise_stopped)
    signal.signal(signal.SIGTERM, _raise_stopped)
    with contextlib.ExitStack() as cleanup:
        try:
            bootstrap = _start_kafka(cleanup)
            use_postgres = os.environ.get("LEADFLOW_STORE", "sqlite").lower() == "postgres"
            postgres = _start_postgres(cleanup) if use_postgres else None
            smtp = _start_mail_catcher(cleanup)
            stack = _start_services(cleanup, bootstrap, postgres, smtp)
            _run_demo(stack, started_at)
            _wait_for_signal()
        except _Stopped as stopped:
            _say(f"{stopped} received; shutting down")
        except (RuntimeError, OSError) as exc:
            _say(f"error: {exc}")
            _say("hint: stores written by an older version may not load; `rm -rf .run/stores` starts afresh")
            return 1
    _say("everything stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
