"""Command line for the local servers.

python -m leadflow_tools kafka start|stop [--port N]
python -m leadflow_tools postgres start|stop [--port N] [--databases a,b]
python -m leadflow_tools smtp start|stop|status [--port N]   (a catcher writing e-mails to .run/mail/)
python -m leadflow_tools token --role admin [--sub ID] [--org ID] [--team T ...]   (`make token`)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from leadflow_shared.auth import Role, devissuer

from ._paths import run_root
from .kafka import LocalKafka
from .postgres import LocalPostgres
from .smtp import DEFAULT_PORT as SMTP_PORT
from .smtp import BackgroundCatcher

DEFAULT_DATABASES = "intake,assignment,sequence,referral"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m leadflow_tools")
    services = parser.add_subparsers(dest="service", required=True)

    kafka = services.add_parser("kafka", help="single-node KRaft broker")
    kafka.add_argument("action", choices=["start", "stop"])
    kafka.add_argument("--port", type=int, default=9092)
    kafka.add_argument("--controller-port", type=int, default=None, help="default: port + 1")
    kafka.add_argument("--timeout", type=float, default=60)

    postgres = services.add_parser("postgres", help="PostgreSQL cluster with trust auth")
    postgres.add_argument("action", choices=["start", "stop"])
    postgres.add_argument("--port", type=int, default=55432)
    postgres.add_argument(
        "--databases",
        default=DEFAULT_DATABASES,
        help=f"comma-separated databases to create on start (default: {DEFAULT_DATABASES})",
    )
    postgres.add_argument("--timeout", type=float, default=60)

    smtp = services.add_parser("smtp", help="SMTP catcher keeping every e-mail as .run/mail/<n>.eml")
    smtp.add_argument("action", choices=["start", "stop", "status"])
    smtp.add_argument("--port", type=int, default=SMTP_PORT)

    token = services.add_parser("token", help="a bearer token of the embedded development issuer")
    token.add_argument("--role", required=True, choices=[r.value for r in Role if r is not Role.INTEGRATION])
    token.add_argument("--sub", default=None, help="the user id (a seller's: their seller id)")
    token.add_argument("--org", default=None, help="partner organisation id (partner roles)")
    token.add_argument("--team", action="append", default=[], help="a team a sales manager leads (repeat)")
    token.add_argument("--hours", type=float, default=8)
    return parser


def _production() -> str | None:
    for name, value in os.environ.items():
        if (name == "LEADFLOW_MODE" or name.endswith("_MODE")) and value.strip().lower() == "production":
            return name
    return None


def _token(args: argparse.Namespace) -> int:
    """Print a token signed by the development issuer (the key under the run folder that the
    services read in embedded mode). Production mode has a real identity provider: refused."""
    refused_by = _production()
    if refused_by is not None:
        print(f"error: {refused_by}=production: tokens come from your identity provider", file=sys.stderr)
        return 2
    print(
        devissuer.issue(
            run_root(),
            subject=args.sub or f"dev-{args.role}",
            roles=[args.role],
            teams=args.team,
            org=args.org,
            lifetime_seconds=int(args.hours * 3600),
        )
    )
    return 0


def _smtp(args: argparse.Namespace) -> None:
    catcher = BackgroundCatcher(port=args.port)
    if args.action == "start":
        catcher.start()
    elif args.action == "stop":
        catcher.stop()
    print(catcher.status())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.service == "token":
        return _token(args)
    began = time.monotonic()
    try:
        if args.service == "smtp":
            _smtp(args)
        elif args.service == "kafka":
            kafka = LocalKafka(port=args.port, controller_port=args.controller_port)
            if args.action == "start":
                kafka.start(timeout=args.timeout)
                print(f"kafka ready on {kafka.bootstrap} ({time.monotonic() - began:.1f}s)")
            else:
                kafka.stop()
                print(f"kafka on port {args.port} stopped")
        else:
            pg = LocalPostgres(port=args.port)
            if args.action == "start":
                pg.start(timeout=args.timeout)
                for name in filter(None, (n.strip() for n in args.databases.split(","))):
                    pg.create_database(name)
                print(f"postgres ready: {pg.dsn()} ({time.monotonic() - began:.1f}s)")
            else:
                pg.stop()
                print(f"postgres on port {args.port} stopped")
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
