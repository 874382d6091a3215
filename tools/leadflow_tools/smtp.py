"""A local SMTP server that accepts every e-mail and keeps it: the catcher of `make run` and the tests.

`SmtpCatcher` runs aiosmtpd in a thread of the calling process. Each e-mail it takes is kept in memory
(`messages`, `wait_for`) and written to `<folder>/<n>.eml`, numbered on from the files already there.
A recipient it is told to refuse gets a 550, as a real server's unknown mailbox would.

`BackgroundCatcher` runs one as its own process (`python -m leadflow_tools smtp start|stop|status`),
writing to `.run/mail/` with its pid file and log beside the e-mails.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ._paths import run_root
from .kafka import _pid_alive, _port_open, _tail, free_port

DEFAULT_PORT = 2525
_MODULE = "leadflow_tools.smtp"


def mail_folder() -> Path:
    """Where `make run` and the background catcher keep the e-mails they caught."""
    return run_root() / "mail"


def count_captured(folder: Path) -> int:
    """The e-mails caught into `folder` so far, by every catcher that wrote there."""
    return sum(1 for path in folder.glob("*.eml") if path.stem.isdigit())


@dataclass(frozen=True)
class CapturedMail:
    """One e-mail as the catcher received it."""

    sender: str
    """The envelope sender (MAIL FROM)."""
    recipients: tuple[str, ...]
    """The envelope recipients (RCPT TO) that were accepted."""
    message: EmailMessage
    path: Path
    """The .eml file it was written to."""


class _KeepingHandler:
    """aiosmtpd's handler: refuses the listed recipients, keeps and writes every message."""

    def __init__(self, folder: Path, refused: Iterable[str], keep: Callable[[CapturedMail], None]) -> None:
        self.folder = folder
        self.refused = {address.lower() for address in refused}
        self._keep = keep
        self._last = max((int(path.stem) for path in folder.glob("*.eml") if path.stem.isdigit()), default=0)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 Mailbox unavailable (refused by the catcher)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self._last += 1
        path = self.folder / f"{self._last}.eml"
        path.write_bytes(content)
        # The file keeps the wire's CRLFs; Python's email package works with plain newlines.
        message = email.message_from_bytes(content.replace(b"\r\n", b"\n"), policy=email.policy.default)
        self._keep(CapturedMail(envelope.mail_from or "", tuple(envelope.rcpt_tos), message, path))
        return "250 Message accepted for delivery"


class SmtpCatcher:
    """An SMTP server on `host:port` (a free port when 0) that keeps what it receives."""

    def __init__(self, folder: Path, *, port: int = 0, host: str = "127.0.0.1", refused: Iterable[str] = ()) -> None:
        self.folder = Path(folder)
        self.host = host
        self.port = port or free_port()
        self._refused = list(refused)
        self._messages: list[CapturedMail] = []
        self._arrived = threading.Condition()
        self._controller: Controller | None = None
        self._handler: _KeepingHandler | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def messages(self) -> list[CapturedMail]:
        """Every e-mail received since `start`, oldest first (a copy)."""
        with self._arrived:
            return list(self._messages)

    def refuse(self, address: str) -> None:
        """Answer RCPT TO `address` with 550 from now on."""
        self._refused.append(address)
        if self._handler is not None:
            self._handler.refused.add(address.lower())

    def start(self) -> None:
        """Listen; returns once the server answers."""
        if self._controller is not None:
            raise RuntimeError(f"the SMTP catcher on port {self.port} is already running")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._handler = _KeepingHandler(self.folder, self._refused, self._keep)
        # A fixed server name: the default looks the machine's name up in DNS, slowly on some.
        controller = Controller(self._handler, hostname=self.host, port=self.port, server_hostname="localhost")
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening (the e-mails stay in `messages` and on disk). Idempotent."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(
        self, predicate: Callable[[CapturedMail], bool] = lambda _: True, timeout: float = 10.0
    ) -> CapturedMail:
        """The first e-mail received that matches `predicate`, waiting up to `timeout` seconds for it."""
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: next((mail for mail in self._messages if predicate(mail)), None), timeout=timeout
            )
            if found is None:
                raise TimeoutError(
                    f"no matching e-mail within {timeout}s ({len(self._messages)} received on port {self.port})"
                )
            return found

    def _keep(self, mail: CapturedMail) -> None:
        with self._arrived:
            self._messages.append(mail)
            self._arrived.notify_all()

    def __enter__(self) -> SmtpCatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- a catcher of its own: python -m leadflow_tools smtp start|stop|status --------------------------


class BackgroundCatcher:
    """A `SmtpCatcher` in a process of its own, found again through its pid file in `folder`."""

    def __init__(self, port: int = DEFAULT_PORT, folder: Path | None = None) -> None:
        self.port = port
        self.folder = Path(folder) if folder is not None else mail_folder()

    @property
    def log_file(self) -> Path:
        return self.folder / f"smtp-{self.port}.log"

    @property
    def _pid_file(self) -> Path:
        return self.folder / f"smtp-{self.port}.pid"

    @property
    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(self._pid_file.read_text().strip())
            return pid if _pid_alive(pid, _MODULE) else None
        return None

    def status(self) -> str:
        if self.pid is None:
            return f"smtp catcher on port {self.port}: not running"
        return (
            f"smtp catcher on 127.0.0.1:{self.port} (pid {self.pid}), "
            f"e-mails caught: {count_captured(self.folder)} in {self.folder}"
        )

    def start(self, timeout: float = 15) -> None:
        """Start the process (a no-op if ours runs) and wait until it answers."""
        if self.pid is not None:
            return
        if _port_open(self.port):
            raise RuntimeError(f"cannot start the SMTP catcher: port {self.port} is already in use")
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", _MODULE, "--port", str(self.port), "--folder", str(self.folder)]
        with self.log_file.open("ab") as log:
            # Own session: it outlives the command that started it, and a terminal's Ctrl-C.
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the SMTP catcher did not start; last log lines:\n{_tail(self.log_file)}")
            time.sleep(0.1)

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Idempotent."""
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _pid_alive(pid, _MODULE) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(pid, _MODULE):
                os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)


def _serve(argv: list[str]) -> int:
    """The background process: catch until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    catcher = SmtpCatcher(args.folder or mail_folder(), port=args.port)
    catcher.start()
    print(f"catching e-mails on 127.0.0.1:{catcher.port} into {catcher.folder}", flush=True)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        catcher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:]))
