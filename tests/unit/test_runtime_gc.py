"""The collector settings a started service runs with (see runtime.settle_garbage_collector)."""

from __future__ import annotations

import gc

import pytest

from leadflow_shared.runtime import settle_garbage_collector
from leadflow_shared.settings import ServiceSettings

pytestmark = pytest.mark.unit


def test_startup_objects_leave_the_walk_and_full_walks_come_rarely() -> None:
    before = gc.get_threshold()
    try:
        settle_garbage_collector(ServiceSettings().gc_full_pass_every)
        assert gc.get_freeze_count() > 10_000  # modules, classes, functions: never walked again
        assert gc.get_threshold() == (before[0], before[1], 100)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_full_pass_interval_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GC_FULL_PASS_EVERY", "25")
    assert ServiceSettings().gc_full_pass_every == 25
    monkeypatch.setenv("GC_FULL_PASS_EVERY", "0")
    with pytest.raises(ValueError, match="gc_full_pass_every"):
        ServiceSettings()
