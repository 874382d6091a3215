"""referral's command line: `python -m referral.entrypoints.cli --help` (no commands until its issue)."""

from __future__ import annotations

import typer

cli = typer.Typer(help="leadflow referral commands", no_args_is_help=True, add_completion=False)


@cli.callback()
def main() -> None:
    """leadflow referral: commands arrive with the referral issue."""


if __name__ == "__main__":
    cli()
