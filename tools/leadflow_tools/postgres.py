"""A throw-away PostgreSQL server run from the distribution's binaries.

Used by tests and local development on machines without a Docker engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shlex
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql

from ._paths import run_root

USER = "leadflow"
PASSWORD = "leadflow"
_OS_USER = "postgres"
_PG_ROOT = Path("/usr/lib/postgresql")
# Unix socket paths are limited to ~107 bytes including ".s.PGSQL.<port>".
_MAX_SOCKET_DIR = 90


def _admin_connect(conninfo: Mapping[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=conninfo["host"],
        port=int(conninfo["port"]),
        user=conninfo["user"],
        password=conninfo.get("password") or None,
        dbname="postgres",
        autocommit=True,  # CREATE/DROP DATABASE cannot run inside a transaction
        connect_timeout=10,
    )


def create_database(conninfo: Mapping[str, Any], name: str) -> None:
    """Create database *name* on the server described by *conninfo*, if missing."""
    with _admin_connect(conninfo) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        # Losing a race with a concurrent creator has the same outcome.
        with contextlib.suppress(errors.DuplicateDatabase):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(conninfo: Mapping[str, Any], name: str) -> None:
    """Drop database *name*, disconnecting its sessions; no error if missing."""
    with _admin_connect(conninfo) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class PortTaken(RuntimeError):
    """Another process (often another checkout's cluster) listens on the port."""


def _port_answers(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def find_bindir() -> Path | None:
    """Highest-version ``/usr/lib/postgresql/<v>/bin`` that has pg_ctl, or None."""
    candidates = [p.parent.parent for p in _PG_ROOT.glob("*/bin/pg_ctl")]
    if not candidates:
        return None
    return max(candidates, key=_version_key) / "bin"


class LocalPostgres:
    """A PostgreSQL cluster under ``run_dir`` listening on 127.0.0.1:``port``.

    Authentication is ``trust`` and the superuser is ``leadflow``. As root the
    server runs as the ``postgres`` OS user because PostgreSQL refuses root.
    """

    def __init__(self, port: int = 55432, run_dir: Path | None = None) -> None:
        self.port = port
        self.run_dir = Path(run_dir) if run_dir is not None else run_root() / f"postgres-{port}"
        self._bindir: Path | None = None

    # -- connection helpers -------------------------------------------------

    @property
    def conninfo(self) -> dict[str, Any]:
        """Connection parameters (host, port, user, password) for psycopg or DSN building."""
        return {"host": "127.0.0.1", "port": self.port, "user": USER, "password": PASSWORD}

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq URI for *dbname* on this server."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> None:
        """Create database *name* if it does not exist."""
        create_database(self.conninfo, name)

    def drop_database(self, name: str) -> None:
        """Drop database *name* if it exists."""
        drop_database(self.conninfo, name)

    # -- paths ---------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        if len(str(self.run_dir)) <= _MAX_SOCKET_DIR:
            return self.run_dir
        # Deep run dirs (e.g. pytest tmp dirs) overflow sun_path; use a short one.
        return Path(tempfile.gettempdir()) / f"leadflow-pg-{self.port}"

    # -- installation / OS user ----------------------------------------------

    @staticmethod
    def _is_root() -> bool:
        return os.geteuid() == 0

    def ensure_installed(self) -> Path:
        """Return the PostgreSQL bin dir, installing the Debian package if none exists."""
        if self._bindir is not None:
            return self._bindir
        bindir = find_bindir()
        if bindir is None:
            if not self._is_root():
                raise RuntimeError(
                    "PostgreSQL binaries not found under /usr/lib/postgresql; "
                    "install them with: sudo apt-get install -y postgresql"
                )
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "postgresql"], check=True, env=env)
            bindir = find_bindir()
            if bindir is None:
                raise RuntimeError("apt-get installed postgresql but no pg_ctl was found")
        if self._is_root():
            self._ensure_os_user()
        self._bindir = bindir
        return bindir

    @staticmethod
    def _ensure_os_user() -> None:
        try:
            pwd.getpwnam(_OS_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _OS_USER],
                check=True,
            )

    def _chown_to_server_user(self, path: Path) -> None:
        if self._is_root():
            entry = pwd.getpwnam(_OS_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    @staticmethod
    def _make_traversable(path: Path) -> None:
        """Add o+x to every ancestor so the ``postgres`` user can reach *path*."""
        for directory in (path, *path.parents):
            mode = directory.stat().st_mode
            if not mode & stat.S_IXOTH:
                directory.chmod(mode | stat.S_IXOTH)

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", _OS_USER, "--", *args] if self._is_root() else args
        result = subprocess.run(
            cmd,
            # The server user may not be allowed into the caller's cwd.
            cwd=self.run_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}" + self._log_tail())
        return result

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\nlast postgres.log lines:\n" + "\n".join(text)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Serialises initdb/start across processes (e.g. parallel pytest workers).
        with (self.run_dir / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @staticmethod
    def _locale_args() -> list[str]:
        # C.UTF-8 gives Unicode-aware upper()/lower() without needing a generated
        # locale; fall back to plain C where it does not exist.
        try:
            available = subprocess.run(["locale", "-a"], stdout=subprocess.PIPE, text=True, check=False).stdout.lower()
        except OSError:
            available = ""
        if "c.utf8" in available or "c.utf-8" in available:
            return ["--locale=C.UTF-8"]
        return ["--no-locale"]

    # -- lifecycle ---------------------------------------------------------------

    def is_running(self) -> bool:
        """True if ``pg_ctl status`` reports a server for our data dir."""
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        bindir = self.ensure_installed()
        return self._run([str(bindir / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False).returncode == 0

    def _initdb(self, bindir: Path) -> None:
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown_to_server_user(self.data_dir)
        pwfile = self.run_dir / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        self._chown_to_server_user(pwfile)
        try:
            self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-A",
                    "trust",
                    "-U",
                    USER,
                    # Trust ignores it, but clients that always send one still match.
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    *self._locale_args(),
                    # Throw-away cluster: no need to fsync the freshly written files.
                    "--no-sync",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 60) -> None:
        """Initialise (first time) and start the server; a no-op if it already runs."""
        bindir = self.ensure_installed()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self.is_running():
                return
            if _port_answers(self.port):
                raise PortTaken(f"127.0.0.1:{self.port} is taken by another server (not {self.data_dir})")
            if self._is_root():
                self._make_traversable(self.run_dir.resolve())
                # The server writes its log and socket here.
                self._chown_to_server_user(self.run_dir)
            socket_dir = self.socket_dir
            if socket_dir != self.run_dir:
                socket_dir.mkdir(mode=0o755, exist_ok=True)
                self._chown_to_server_user(socket_dir)
            if not (self.data_dir / "PG_VERSION").exists():
                if self.data_dir.exists() and any(self.data_dir.iterdir()):
                    raise RuntimeError(f"{self.data_dir} is not empty but holds no cluster")
                self._initdb(bindir)
            options = " ".join(
                [
                    f"-p {self.port}",
                    f"-k {shlex.quote(str(socket_dir))}",  # pg_ctl hands -o to a shell
                    "-c listen_addresses=127.0.0.1",
                    # Local dev/test server only: durability is traded for speed,
                    # so a crash may corrupt this cluster (delete .run/ to reset).
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    # Several services x connection pools x parallel tests.
                    "-c max_connections=200",
                ]
            )
            self._run(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-o",
                    options,
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(timeout)),
                ]
            )

    def stop(self, timeout: float = 30) -> None:
        """Stop the server (fast shutdown); a no-op if it is not running."""
        if not self.is_running():
            return
        bindir = self.ensure_installed()
        self._run(
            [
                str(bindir / "pg_ctl"),
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(timeout)),
            ]
        )


@contextlib.contextmanager
def throwaway_postgres(run_dir: Path, say: Callable[[str], None] = print) -> Iterator[LocalPostgres | None]:
    """A private server on a free port for one run (benchmarks); None where PostgreSQL cannot run,
    so the caller's other figures still stand."""
    from . import free_port

    if find_bindir() is None:
        say("PostgreSQL binaries not found: skipping PostgreSQL")
        yield None
        return
    pg = LocalPostgres(port=free_port(), run_dir=run_dir)
    say(f"starting a local PostgreSQL on 127.0.0.1:{pg.port}")
    try:
        pg.start()
    except Exception as exc:
        say(f"PostgreSQL did not start ({type(exc).__name__}: {exc}): skipping it")
        yield None
        return
    try:
        yield pg
    finally:
        pg.stop()
