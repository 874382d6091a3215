"""intake's command line: `python -m intake.cli --help`.

Each command module registers itself here, so this file stays the one visible list.
"""

from __future__ import annotations

import typer

cli = typer.Typer(help="leadflow intake commands", no_args_is_help=True, add_completion=False)

COMMAND_MODULES: list[str] = [
    # "intake.<package>.cli" modules, each with `register(cli: typer.Typer) -> None`
    "intake.readmodel.cli",
    "intake.importer.cli",
]


def main() -> None:
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(cli)
    cli()


if __name__ == "__main__":
    main()
