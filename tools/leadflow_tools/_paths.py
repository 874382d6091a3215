"""Locate the repository root so local infrastructure never relies on absolute paths."""

from __future__ import annotations

import os
from pathlib import Path

# A file that only exists at the top of a leadflow checkout.
_MARKER = Path("deploy") / "kafka" / "pom.xml"


def repo_root() -> Path:
    """Return the leadflow repository root.

    ``LEADFLOW_REPO_ROOT`` wins; otherwise walk up from this file (editable
    install / PYTHONPATH) and then from the working directory (regular install).
    """
    override = os.environ.get("LEADFLOW_REPO_ROOT")
    if override:
        return Path(override).resolve()
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / _MARKER).is_file():
                return candidate
    raise RuntimeError(
        "cannot find the leadflow repository root (looked for deploy/kafka/pom.xml); set LEADFLOW_REPO_ROOT"
    )


def run_root() -> Path:
    """Directory (git-ignored) holding state of locally started servers."""
    return repo_root() / ".run"
