"""sequence's command line: `python -m sequence.entrypoints.cli --help` (no commands until its issue)."""

from __future__ import annotations

import typer

cli = typer.Typer(help="leadflow sequence commands", no_args_is_help=True, add_completion=False)


@cli.callback()
def main() -> None:
    """leadflow sequence: commands arrive with the sequence issue."""


if __name__ == "__main__":
    cli()
