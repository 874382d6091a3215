"""`rebuild-read-models`, as every service's command line runs it: drop a read model's tables and
replay the whole event store into them in one transaction (readers keep the old model until the
new one is complete), with progress on the terminal and the row counts at the end."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .projection import ProjectionRunner


def rebuild_with_progress(runner: ProjectionRunner, service: str, console: Console | None = None) -> dict[str, int]:
    """Rebuild `runner`'s projection; closes neither the store nor the application."""
    console = console or Console()
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]replaying events"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("replay", total=runner.app.recorder.max_notification_id() or 0)
        counts = runner.rebuild(lambda done, total: progress.update(task, completed=done, total=total))
    table = Table("table", "rows", title=f"{service} read models rebuilt")
    for name, rows in counts.items():
        table.add_row(name, str(rows))
    console.print(table)
    console.print(f"done in {time.monotonic() - started:.2f}s")
    return counts
