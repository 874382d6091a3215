"""`leadflow`: the operators' command line (installed with leadflow-shared).

`leadflow dlq list|show|redrive --topic T`: inspect `T.dlq`'s dead letters and, once a fix is
deployed, send them back to T, each exactly once (see `redrive`). The command uses the settings
of the service named by `--service` (or LEADFLOW_SERVICE; by default the one service consuming
T): its Kafka bootstrap, security and topic prefix from its environment (INTAKE_*, …), and its
data keys to open sealed dead letters. Nothing prints personal data: a sealed letter's original
is shown as sealed, never opened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from aiokafka.errors import KafkaError

from .kafka import TopicsNotReady, kafka_security
from .personal import DataKeys
from .redrive import (
    DEFAULT_BATCH_SIZE,
    DeadLetterSource,
    NoSuchTopic,
    RedriveReport,
    RedriveTakenOver,
    StoredDeadLetter,
    dead_letter_at,
    list_dead_letters,
    redrive,
)
from .topics import dead_letter_topic

SERVICES = ("intake", "assignment", "sequence", "referral")
"""Each offers `DEAD_LETTERS` (a DeadLetterSource) in `<service>.entrypoints.cli`."""

EXIT_FAILED = 1
EXIT_TAKEN_OVER = 3

app = typer.Typer(help="leadflow operations", no_args_is_help=True, add_completion=False)
dlq = typer.Typer(
    help="Dead letters: list and show them, redrive them once a fix is deployed.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(dlq, name="dlq")


# -- options --------------------------------------------------------------------------------

Topic = Annotated[str, typer.Option("--topic", "-t", help="the consumed topic, without the topic prefix")]
Service = Annotated[
    str | None,
    typer.Option(
        "--service",
        "-s",
        envvar="LEADFLOW_SERVICE",
        help="whose settings (INTAKE_*, …) and data keys to use; default: the one service consuming TOPIC",
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="only dead letters dead-lettered at or after this time: ISO-8601 "
        "(2026-11-01T10:00:00Z) or a duration ago (90m, 2h, 1d, 1h30m)",
    ),
]
Group = Annotated[str | None, typer.Option("--group", help="only dead letters of this consumer group")]

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """An ISO-8601 time (UTC if it names no zone) or a duration ago ("2h", "1h30m", "45s")."""
    if text is None:
        return None
    value = text.strip()
    if re.fullmatch(r"(\d+[smhdw])+", value):
        ago = timedelta(**{_UNITS[unit]: int(n) for n, unit in _DURATION.findall(value)})
        return (now or datetime.now(UTC)) - ago
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise typer.BadParameter(
            "an ISO-8601 time (2026-11-01T10:00:00Z) or a duration such as 90m, 2h, 1d", param_hint="--since"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# -- the service whose settings to use ---------------------------------------------------------


def source_of(service: str) -> DeadLetterSource:
    if service not in SERVICES:
        raise typer.BadParameter(f"one of {', '.join(SERVICES)}", param_hint="--service")
    module = importlib.import_module(f"{service}.entrypoints.cli")
    source: DeadLetterSource = module.DEAD_LETTERS
    return source


def choose_source(topic: str, service: str | None) -> DeadLetterSource:
    """The named service (it must consume `topic`), or the only service consuming it."""
    if service is not None:
        source = source_of(service)
        if topic not in source.consumes:
            raise typer.BadParameter(
                f"{service} consumes {', '.join(sorted(source.consumes))}; not {topic}", param_hint="--topic"
            )
        return source
    consumers = [s for s in map(source_of, SERVICES) if topic in s.consumes]
    if not consumers:
        known = sorted({t for s in map(source_of, SERVICES) for t in s.consumes})
        raise typer.BadParameter(f"no service consumes {topic}; the consumed topics: {', '.join(known)}")
    if len(consumers) > 1:
        names = ", ".join(s.service for s in consumers)
        raise typer.BadParameter(f"{topic} is consumed by {names}: name one with --service", param_hint="--service")
    return consumers[0]


def _echo(text: str = "", err: bool = False) -> None:
    typer.echo(text, err=err)


# -- list -----------------------------------------------------------------------------------

_COLUMNS = ("LETTER", "DEAD-LETTERED (UTC)", "CONSUMER GROUP", "ORIGIN", "STORED", "REDRIVEN", "REASON")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _redriven(letter: StoredDeadLetter) -> str:
    if letter.redriven is None:
        return "no"
    if letter.redriven.before_ledger:
        return "yes (before the ledger)"
    return f"yes {letter.redriven.at}"


def _stored(letter: StoredDeadLetter) -> str:
    return "sealed" if letter.sealed else "truncated" if letter.truncated else "plain"


def summary_of(letter: StoredDeadLetter) -> dict[str, Any]:
    """What `list` says about a dead letter: never its key, value or original headers."""
    return {
        "letter": letter.ident,
        "dead_lettered": _when(letter.timestamp),
        "consumer_group": letter.consumer_group,
        "origin": letter.origin,
        "stored": _stored(letter) if not (letter.sealed and letter.truncated) else "sealed, truncated",
        "redriven": letter.redriven is not None,
        "redriven_at": letter.redriven.at if letter.redriven else None,
        "reason": letter.reason,
    }


@dlq.command("list", short_help="One line per dead letter of TOPIC.dlq (no personal data).")
def list_command(
    topic: Topic,
    service: Service = None,
    since: Since = None,
    group: Group = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="show at most this many")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
) -> None:
    """One line per dead letter of TOPIC.dlq: partition:offset, when it was dead-lettered, the
    consumer group, where it came from (topic:partition:offset), how it is stored (plain, sealed:
    holds personal data, truncated), whether it was redriven, and the reason."""
    source = choose_source(topic, service)
    settings = source.settings()
    since_at = parse_since(since)

    async def run() -> tuple[int, int, bool]:
        shown = redriven = 0
        letters = list_dead_letters(
            settings.topic(topic), settings.bootstrap, security=kafka_security(settings), since=since_at, group=group
        )
        if not as_json:
            _echo("  ".join(_COLUMNS))
        async for letter in letters:
            if shown == limit:
                return shown, redriven, True
            shown += 1
            redriven += letter.redriven is not None
            line = summary_of(letter)
            if as_json:
                _echo(json.dumps(line))
            else:
                _echo(
                    "  ".join(
                        (
                            letter.ident,
                            _when(letter.timestamp),
                            letter.consumer_group,
                            letter.origin,
                            line["stored"],
                            _redriven(letter),
                            line["reason"],
                        )
                    )
                )
        return shown, redriven, False

    shown, redriven, more = _run(run, settings.topic(topic))
    more_note = f" (the first {limit}: --limit to see more)" if more else ""
    _echo(
        f"{shown} dead letter(s) of {dead_letter_topic(settings.topic(topic))}{more_note}; {redriven} redriven",
        err=True,
    )


# -- show -----------------------------------------------------------------------------------


def _text(raw: bytes | None) -> str:
    if raw is None:
        return "(none)"
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"(not UTF-8, {len(raw)} bytes, base64) " + base64.b64encode(raw).decode()


@dlq.command("show", short_help="One dead letter in full (sealed ones without their original).")
def show_command(
    topic: Topic,
    partition: Annotated[int, typer.Option("--partition", "-p", min=0, help="of TOPIC.dlq")],
    offset: Annotated[int, typer.Option("--offset", "-o", min=0, help="of TOPIC.dlq")],
    service: Service = None,
) -> None:
    """One dead letter in full: its headers, the reason, its redrive status, and — unless it is
    sealed (holds personal data) — its key and value."""
    source = choose_source(topic, service)
    settings = source.settings()

    async def run() -> StoredDeadLetter | None:
        return await dead_letter_at(
            settings.topic(topic), settings.bootstrap, partition, offset, security=kafka_security(settings)
        )

    letter = _run(run, settings.topic(topic))
    if letter is None:
        _echo(f"no dead letter at {partition}:{offset} of {dead_letter_topic(settings.topic(topic))}", err=True)
        raise typer.Exit(EXIT_FAILED)
    _echo(f"dead letter {letter.topic} {letter.ident}")
    _echo(f"dead-lettered:  {_when(letter.timestamp)}")
    _echo(f"consumer group: {letter.consumer_group}")
    _echo(f"origin:         {letter.origin}")
    _echo(f"reason:         {letter.reason}")
    _echo(f"stored:         {summary_of(letter)['stored']}")
    if letter.redriven is None:
        _echo("redriven:       no")
    elif letter.redriven.before_ledger:
        _echo("redriven:       yes (by a redrive of before the ledger)")
    else:
        _echo(f"redriven:       yes, {letter.redriven.at}, sent as {letter.redriven.sent_to}")
    _echo("headers:")
    for name, raw in letter.headers:
        _echo(f"  {name}: {_text(raw)}")
    if letter.sealed:
        _echo(
            "key, value, original headers: sealed — they hold personal data and are not shown "
            f"(data subject {letter.header('leadflow_sealed')})"
        )
    else:
        _echo(f"key:   {_text(letter.key)}")
        _echo(f"value: {_text(letter.value)}")


# -- redrive --------------------------------------------------------------------------------


def run_redrive(
    source: DeadLetterSource,
    topic: str,
    *,
    since: datetime | None = None,
    group: str | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress_every: int = 1000,
    echo: Callable[[str], Any] = _echo,
) -> RedriveReport:
    """Redrive `topic`'s dead letters with `source`'s settings and data keys (opened only when a
    sealed letter needs them), saying how it goes. Exits 3 when another redrive took over."""
    settings = source.settings()
    full = settings.topic(topic)
    said = [0]

    def progress(report: RedriveReport) -> None:
        if report.looked_at // progress_every > said[0]:
            said[0] = report.looked_at // progress_every
            echo(f"… {report.looked_at:,} of {report.total:,} dead letters looked at: {_counts(report, dry_run)}")

    with contextlib.ExitStack() as stack:

        def keys() -> DataKeys:
            return stack.enter_context(source.data_keys(settings))

        async def run() -> RedriveReport:
            return await redrive(
                full,
                settings.bootstrap,
                keys,
                security=kafka_security(settings),
                since=since,
                group=group,
                dry_run=dry_run,
                batch_size=batch_size,
                progress=progress,
                create_ledger=settings.mode != "production",
                replication=getattr(settings, "topic_replication_factor", 1),
            )

        echo(f"{'dry run: ' if dry_run else ''}redriving {dead_letter_topic(full)} to {full}")
        try:
            report = _run(run, full)
        except RedriveTakenOver as exc:
            echo(f"stopped: {exc}. What this run redrove is recorded; the other run does the rest.")
            raise typer.Exit(EXIT_TAKEN_OVER) from None
        except KafkaError as exc:
            # A broker error mid-transaction (also what a fenced run may get from a Kafka 4
            # broker instead of ProducerFenced): the open batch is aborted, nothing is half-sent.
            echo(
                f"stopped: {type(exc).__name__}: {exc}. What this run redrove is recorded; run it again "
                "to redrive the rest (nothing is sent twice)."
            )
            raise typer.Exit(1) from None
    verb = "would redrive" if dry_run else "redrove"
    echo(
        f"{verb} {report.redriven} message(s) from {dead_letter_topic(full)}; {report.already_redriven} "
        f"already redriven; skipped {report.erased} of erased subjects and {report.truncated} stored "
        "truncated (their senders have to send them again)"
    )
    return report


def _counts(report: RedriveReport, dry_run: bool) -> str:
    return (
        f"{'would redrive' if dry_run else 'redriven'} {report.redriven:,}, already redriven "
        f"{report.already_redriven:,}, erased {report.erased:,}, truncated {report.truncated:,}"
    )


@dlq.command("redrive", short_help="Send TOPIC.dlq's dead letters back to TOPIC, each exactly once.")
def redrive_command(
    topic: Topic,
    service: Service = None,
    since: Since = None,
    group: Group = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="send nothing; say what would be sent")] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=5000, help="dead letters per Kafka transaction")
    ] = DEFAULT_BATCH_SIZE,
    progress_every: Annotated[
        int, typer.Option("--progress-every", min=1, help="a progress line every this many dead letters")
    ] = 1000,
) -> None:
    """Send TOPIC.dlq's dead letters back to TOPIC as they first arrived, each exactly once: what an
    earlier run redrove is skipped (the redrive ledger TOPIC.dlq.redrives), a run killed mid-way
    can simply be run again, and a second run started beside a first one takes over from it.

    Sealed letters are opened with the service's data keys; those of erased subjects, and letters
    stored truncated, are skipped and counted. Exit 0: done; 3: another run took over."""
    run_redrive(
        choose_source(topic, service),
        topic,
        since=parse_since(since),
        group=group,
        dry_run=dry_run,
        batch_size=batch_size,
        progress_every=progress_every,
    )


def _run(make: Callable[[], Any], topic: str) -> Any:
    try:
        return asyncio.run(make())
    except NoSuchTopic as exc:
        _echo(f"topic {exc} does not exist (no dead letters of {topic} yet?)", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except TopicsNotReady as exc:
        _echo(f"the redrive ledger topic is not ready: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
