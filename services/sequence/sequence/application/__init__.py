"""sequence's use cases (none yet: the skeleton only stores and relays)."""

from __future__ import annotations

from leadflow_shared.store import ServiceApplication


class SequenceApplication(ServiceApplication):
    name = "sequence"
