"""A single-node KRaft Kafka broker run straight from Maven-fetched jars.

Used by tests and local development on machines without a Docker engine.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ._paths import repo_root, run_root

_STARTED_LINE = "Kafka Server started"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _pid_alive(pid: int, needle: str) -> bool:
    """True if *pid* runs and its command line mentions *needle*.

    The command-line check guards against a stale pid file whose pid has been
    reused by an unrelated process.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if not text:  # zombie: exited but not yet reaped
            return False
        return needle in text
    return True


def _new_cluster_id() -> str:
    """Random cluster id in Kafka's format: url-safe base64 of a UUID, unpadded.

    Like Kafka's own ``Uuid.randomUuid()`` this rejects ids starting with "-"
    (1 in 64 draws): StorageTool's argument parser would read ``-t -xyz`` as
    a missing value followed by an unknown option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _tail(path: Path, lines: int = 30) -> str:
    try:
        with path.open(errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return "<no log>"


@dataclass(frozen=True)
class SaslSslListener:
    """A second listener that takes only TLS connections authenticated by SASL/SCRAM-SHA-512:
    `keystore` is a PEM file with the broker's certificate chain and unencrypted PKCS#8 key."""

    port: int
    keystore: Path
    username: str
    password: str


class LocalKafka:
    """One Kafka process acting as both broker and KRaft controller.

    State (config, data, log, pid file, cluster id) lives in ``run_dir`` so a
    second ``LocalKafka`` on the same port, e.g. from the CLI, can find and
    stop a broker started by another process.
    """

    def __init__(
        self,
        port: int = 9092,
        controller_port: int | None = None,
        run_dir: Path | None = None,
        partitions: int = 1,
        sasl_ssl: SaslSslListener | None = None,
    ) -> None:
        self.sasl_ssl = sasl_ssl
        self.port = port
        self.controller_port = controller_port if controller_port is not None else port + 1
        self.run_dir = Path(run_dir) if run_dir is not None else run_root() / f"kafka-{port}"
        self.partitions = partitions
        self._kafka_dir = repo_root() / "deploy" / "kafka"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers string for clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "kafka.log"

    @property
    def _pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def _props_file(self) -> Path:
        return self.run_dir / "server.properties"

    @property
    def _lib(self) -> Path:
        return self._kafka_dir / "lib"

    def _classpath(self) -> str:
        # The JVM expands the trailing "*" itself, so no shell is needed.
        return str(self._lib / "*")

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("java not found on PATH (Kafka needs Java 17+)")
        return java

    @property
    def pid(self) -> int | None:
        """The broker's process id, if this launcher started one (profiling, CPU accounting)."""
        return self._read_pid()

    def _read_pid(self) -> int | None:
        try:
            return int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        """True if our recorded broker process is alive and answering on the port."""
        pid = self._read_pid()
        return pid is not None and _pid_alive(pid, "kafka.Kafka") and _port_open(self.port)

    def _ensure_jars(self) -> None:
        if any(self._lib.glob("kafka_2.13-*.jar")):
            return
        subprocess.run([str(self._kafka_dir / "fetch.sh")], check=True)
        if not any(self._lib.glob("kafka_2.13-*.jar")):
            raise RuntimeError(f"fetch.sh finished but no kafka jar in {self._lib}")

    def _cluster_id(self) -> str:
        # Reused across restarts: the formatted data dir is bound to this id.
        id_file = self.run_dir / "cluster.id"
        if id_file.exists():
            stored = id_file.read_text().strip()
            if stored and not stored.startswith("-"):
                return stored
        cluster_id = _new_cluster_id()
        id_file.write_text(cluster_id + "\n")
        return cluster_id

    def _write_properties(self) -> None:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.run_dir / "data"),
            "num.partitions": str(self.partitions),
            # The project creates its topics explicitly; auto-creation would hide mistakes.
            "auto.create.topics.enable": "false",
            # Single node: internal topics cannot have more than one replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Consumer groups in tests should not wait 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
            # Small thread pools and internal topics: this runs on 2-core machines.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "2",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.num.partitions": "6",
        }
        if self.sasl_ssl is not None:
            secure = self.sasl_ssl
            props["listeners"] += f",SASL_SSL://127.0.0.1:{secure.port}"
            props["advertised.listeners"] += f",SASL_SSL://127.0.0.1:{secure.port}"
            props["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
            props |= {
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
                "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
                "listener.name.sasl_ssl.ssl.keystore.location": str(secure.keystore),
            }
        text = "".join(f"{key}={value}\n" for key, value in props.items())
        self._props_file.write_text(text)

    def _format_storage(self) -> None:
        if (self.run_dir / "data" / "meta.properties").exists():
            # Already formatted; skipping saves a ~1 s JVM start on restarts.
            return
        result = subprocess.run(
            [
                self._java(),
                f"-Dlog4j2.configurationFile={self._kafka_dir / 'log4j2.properties'}",
                "-cp",
                self._classpath(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self._cluster_id(),
                "-c",
                str(self._props_file),
                "--ignore-formatted",
                *self._scram_users(),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace")
            raise RuntimeError(f"kafka storage format failed ({result.returncode}):\n{output}")

    def _scram_users(self) -> list[str]:
        if self.sasl_ssl is None:
            return []
        user = self.sasl_ssl
        return ["--add-scram", f"SCRAM-SHA-512=[name={user.username},password={user.password}]"]

    def start(self, timeout: float = 60) -> None:
        """Start the broker and wait until it accepts connections.

        A no-op if our broker is already running on this port. Raises
        ``RuntimeError`` (with the log tail) if it exits or is not ready in time.
        """
        if self.is_running():
            return
        pid = self._read_pid()
        if pid is not None and _pid_alive(pid, "kafka.Kafka"):
            # Alive but not answering: half started or wedged; start over.
            self._terminate(pid, timeout=15)
        if _port_open(self.port) or _port_open(self.controller_port):
            raise RuntimeError(
                f"cannot start Kafka: port {self.port} or {self.controller_port} is already in use by another process"
            )

        self._ensure_jars()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_properties()
        self._format_storage()

        if self.log_file.exists():
            # Keep the previous run for debugging, but never match its "started" line.
            self.log_file.replace(self.run_dir / "kafka.log.prev")
        cmd = [
            self._java(),
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={self._kafka_dir / 'log4j2.properties'}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(self._props_file),
        ]
        with self.log_file.open("wb") as log:
            # Own session: the broker survives the CLI that started it and
            # does not receive the terminal's Ctrl-C meant for pytest.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                start_new_session=True,
            )
        self._pid_file.write_text(f"{self._proc.pid}\n")

        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self._pid_file.unlink(missing_ok=True)
                raise RuntimeError(
                    f"Kafka exited with code {code} during startup; last log lines:\n" + _tail(self.log_file)
                )
            if _STARTED_LINE in self.log_file.read_text(errors="replace") and _port_open(self.port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"Kafka not ready on {self.bootstrap} after {timeout}s; last log lines:\n" + _tail(self.log_file)
                )
            time.sleep(0.1)

    def _terminate(self, pid: int, timeout: float) -> None:
        def signal_group(sig: signal.Signals) -> None:
            try:
                # start_new_session made the broker a group leader (pgid == pid).
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
            except PermissionError:
                os.kill(pid, sig)

        def gone() -> bool:
            if self._proc is not None and self._proc.pid == pid:
                return self._proc.poll() is not None
            return not _pid_alive(pid, "kafka.Kafka")

        signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not gone():
            if time.monotonic() > deadline:
                signal_group(signal.SIGKILL)
                kill_deadline = time.monotonic() + 5
                while not gone() and time.monotonic() < kill_deadline:
                    time.sleep(0.05)
                break
            time.sleep(0.05)

    def stop(self, timeout: float = 15) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after *timeout* seconds. Idempotent."""
        pid = self._read_pid()
        if pid is not None and _pid_alive(pid, "kafka.Kafka"):
            self._terminate(pid, timeout)
        self._pid_file.unlink(missing_ok=True)
        self._proc = None
