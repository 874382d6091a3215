"""Every service's command line names its commands (`python -m <service>.entrypoints.cli <command>`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assignment.entrypoints.cli import cli as assignment_cli
from intake.entrypoints.cli import cli as intake_cli
from referral.entrypoints.cli import cli as referral_cli
from sequence.entrypoints.cli import cli as sequence_cli

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "cli"),
    [("intake", intake_cli), ("assignment", assignment_cli), ("referral", referral_cli), ("sequence", sequence_cli)],
)
def test_rebuild_read_models_is_a_named_command_that_rebuilds(
    name: str, cli: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = name.upper()
    monkeypatch.setenv(f"{prefix}_RUN_DIR", str(tmp_path))
    monkeypatch.setenv(f"{prefix}_SQLITE_PATH", str(tmp_path / "store.sqlite"))
    result = CliRunner().invoke(cli, ["rebuild-read-models"])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert f"{name} read models rebuilt" in result.output
