"""Time travel: an aggregate as its stream had recorded it at a given moment.

Every aggregate-backed resource of every service offers the same `as_of` query parameter: an
RFC 3339 time with an offset. The state is rebuilt from the event stream — the events recorded
at or before that moment, replayed — never from a read model, so it is exactly what the service
knew then. Before the aggregate's first event it did not exist yet: 404 with the reason. Like
every endpoint (`leadflow_shared.http.refuse_unknown_query_parameters`), they refuse query
parameters they do not know (422), so a misspelt `as_of` never silently returns the current state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query
from pydantic import AwareDatetime

from .store import ServiceApplication

AsOf = Annotated[
    AwareDatetime | None,
    Query(
        description="Answer as the service had recorded it at this moment (RFC 3339 with an offset, "
        "e.g. 2026-12-01T09:30:00Z); rebuilt from the event stream.",
    ),
]


class DidNotExistYet(LookupError):
    """The aggregate's first event was recorded after the moment asked about."""

    def __init__(self, what: str, aggregate_id: UUID, as_of: datetime, first_recorded_at: datetime) -> None:
        super().__init__(
            f"{what} {aggregate_id} did not exist yet at {as_of.isoformat()}; "
            f"it was first recorded at {first_recorded_at.isoformat()}"
        )
        self.first_recorded_at = first_recorded_at


def state_as_of(app: ServiceApplication, aggregate_id: UUID, as_of: datetime, *, what: str = "aggregate") -> Any:
    """The aggregate as recorded at `as_of` (its events up to and including that moment,
    replayed), or None if it has no stream at all. Raises DidNotExistYet before its first event.

    With snapshots (long streams), replay starts from the latest snapshot taken at or before
    `as_of` and reads only the events after it."""
    if app.snapshots is not None:
        snapshots: Iterable[Any] = app.snapshots.get(aggregate_id, desc=True)
        for snapshot in snapshots:
            if snapshot.timestamp <= as_of:
                aggregate = snapshot.mutate(None)
                later: Iterable[Any] = app.events.get(aggregate_id, gt=snapshot.originator_version)
                for domain_event in later:
                    if domain_event.timestamp > as_of:
                        break
                    aggregate = domain_event.mutate(aggregate)
                return aggregate
    return replay_until(app.events.get(aggregate_id), aggregate_id, as_of, what=what)


def replay_until(domain_events: Iterable[Any], aggregate_id: UUID, as_of: datetime, *, what: str = "aggregate") -> Any:
    aggregate, first = None, None
    for domain_event in domain_events:
        first = first or domain_event
        if domain_event.timestamp > as_of:
            break
        aggregate = domain_event.mutate(aggregate)
    if first is not None and aggregate is None:
        raise DidNotExistYet(what, aggregate_id, as_of, first.timestamp)
    return aggregate


__all__ = ["AsOf", "DidNotExistYet", "replay_until", "state_as_of"]
