"""What a service knows is wrong with itself, for `/readyz`.

Every part that can get stuck (a consumer partition, a relay, a projection, a background
task) reports here under its own name and clears its report when it recovers. `/readyz`
answers 503 while any report stands, naming what is stuck and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    what: str
    since: float

    def describe(self) -> str:
        return f"{self.what} (for {time.monotonic() - self.since:.0f}s)"


class Health:
    def __init__(self) -> None:
        self._problems: dict[str, Problem] = {}

    def report(self, name: str, what: str) -> None:
        """Say `name` is stuck; keeps the time it first became so."""
        current = self._problems.get(name)
        self._problems[name] = Problem(what, current.since if current else time.monotonic())

    def clear(self, name: str) -> None:
        self._problems.pop(name, None)

    def clear_prefix(self, prefix: str) -> None:
        for name in [n for n in self._problems if n.startswith(prefix)]:
            del self._problems[name]

    def problems(self) -> dict[str, str]:
        return {name: problem.describe() for name, problem in sorted(self._problems.items())}

    @property
    def ok(self) -> bool:
        return not self._problems
