"""What-if: would another rule set have placed past leads differently? Compared like with like.

For each lead of the window, its FIRST automatic decision (the first one the rules made) is made
again with the given rule set, at the moment it was made, against the sellers as they were then.
The period is replayed in log order from the state at its start: every seller, roster and holiday
change as it happened, the simulated first decisions' own effect on capacity and round robin in
place of the real ones. Whatever happened to a lead afterwards (a re-run of the unassigned queue,
a recycle, a hand assignment, a claim) is replayed as it happened — the lead goes where it really
went — and listed apart (`reruns`, `manual_changes`), never counted as a difference. So the active
rule set simulated over its own period reproduces every first decision: zero differences.

One run, three steps, and none of them writes anything:

1. `choose_leads` — which leads (the read model: leads by arrival);
2. `reads()` — a read-only copy of what the replay needs, taken in short store reads (for the
   service's store thread, one at a time, so other calls are served in between): the rule set,
   the log from the window's first lead on (stored events, not decoded), and the sellers, the
   roster and the holiday lists as they stood just before it;
3. `compare` — the replay and the report (whatif_replay.py): decoding and deciding, CPU only,
   on private copies, beside the store thread.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification

from ..domain import HOLIDAYS_ID, HolidayLists, Roster, Seller, seller_uuid
from ..domain.sellers import ROSTER_ID
from .whatif_replay import ASSIGNMENT_TOPICS, RELEASED_TOPICS, TOPICS, Replay

if TYPE_CHECKING:
    from .use_cases import AssignmentApplication

DEFAULT_LAST = 100
"""With no window given, the last 100 leads that arrived."""
PAGE = 2000
"""Stored events per store read."""
SELLERS_PER_READ = 20
WORK_BETWEEN_PAUSES = 0.01
PAUSE = 0.001
"""The replay is CPU only: every 10 ms of it, it lets go of the interpreter for 1 ms. Without
that, each time another thread of the service (the event loop, the store thread, a read) gives
up the interpreter for I/O it waits up to the switch interval (5 ms) to get it back, and a call
made meanwhile can take as long as the whole replay."""


@dataclass(frozen=True)
class Window:
    """Which leads: those that arrived in [since, until) (either end open), the last `last` of them."""

    last: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, last: int | None = None, since: datetime | None = None, until: datetime | None = None) -> Window:
        """The window asked for; nothing asked: the last DEFAULT_LAST leads."""
        if last is None and since is None and until is None:
            last = DEFAULT_LAST
        return cls(last, since, until)

    def as_json(self) -> dict[str, Any]:
        return {
            "last": self.last,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }


class WhatIf:
    """One what-if run of rule set `version` over `window` (see the module's docstring)."""

    def __init__(self, app: AssignmentApplication, version: int, window: Window) -> None:
        self._app = app
        self.window = window
        self.ruleset = app.rulebook().get(version)  # raises RuleSetNotFound
        self.lead_ids: list[UUID] = []
        self._start = self._stop = 0
        self._log: list[Notification] = []
        self._log_read = False
        self._first_versions: dict[UUID, int] = {}
        self._roster: Roster | None = None
        self._holidays: HolidayLists | None = None
        self._sellers: dict[UUID, Seller] = {}

    # -- 1. which leads (the read model) --------------------------------------------------

    def choose_leads(self) -> None:
        reads = self._app.reads
        if reads is None:
            raise RuntimeError("assignment's read model is not wired (see bootstrap)")
        window = self.window
        self.lead_ids = reads.arrivals(last=window.last, since=window.since, until=window.until)

    # -- 2. the read-only copy, in short store reads ----------------------------------------

    def reads(self) -> Iterator[Callable[[], None]]:
        """The store reads, in order; run each where store calls run (they only read)."""
        if not self.lead_ids:
            return
        yield self._bounds
        while not self._log_read:
            yield self._next_page
        yield self._roster_and_holidays
        # The roster's sellers, and any other seller the window names (one who left the roster).
        order = [seller_uuid(s) for s in self._roster.order] if self._roster is not None else []
        sellers = list(dict.fromkeys(order + [i for i in self._first_versions if i not in (ROSTER_ID, HOLIDAYS_ID)]))
        for first in range(0, len(sellers), SELLERS_PER_READ):
            yield partial(self._sellers_at_start, sellers[first : first + SELLERS_PER_READ])

    def _bounds(self) -> None:
        recorder = self._app.recorder
        self._stop = recorder.max_notification_id() or 0
        # Leads are numbered in log order: the window's first lead opened first.
        self._start = recorder.notification_id_of(self.lead_ids[0], 1) or 0
        self._log_read = not self._start

    def _next_page(self) -> None:
        after = self._log[-1].id if self._log else self._start - 1
        page = self._app.recorder.select_notifications(after + 1, PAGE, stop=self._stop, topics=TOPICS)
        for notification in page:
            if notification.topic not in ASSIGNMENT_TOPICS:
                self._first_versions.setdefault(cast(UUID, notification.originator_id), notification.originator_version)
        self._log += page
        self._log_read = len(page) < PAGE or page[-1].id >= self._stop

    def _roster_and_holidays(self) -> None:
        self._roster = self._as_it_was(ROSTER_ID)
        self._holidays = self._as_it_was(HOLIDAYS_ID)

    def _sellers_at_start(self, aggregate_ids: Sequence[UUID]) -> None:
        for aggregate_id in aggregate_ids:
            seller = self._as_it_was(aggregate_id)
            if seller is not None:
                self._sellers[aggregate_id] = seller

    def _as_it_was(self, aggregate_id: UUID) -> Any:
        """The aggregate just before the window's first event (None: it did not exist yet)."""
        version = self._version_before_start(aggregate_id)
        return self._app.repository.get(aggregate_id, version=version) if version else None

    def _version_before_start(self, aggregate_id: UUID) -> int:
        first_in_window = self._first_versions.get(aggregate_id)
        if first_in_window is not None:
            return first_in_window - 1
        # Not changed in the window: its last version up to `stop` (later ones are not ours).
        recorder = self._app.recorder
        try:
            version: int = self._app.latest(aggregate_id).version
        except AggregateNotFoundError:  # never stored (no holiday list yet): nothing to start from
            return 0
        while version and (recorder.notification_id_of(aggregate_id, version) or 0) > self._stop:
            version -= 1
        return version

    # -- 3. the replay and the report: CPU only ---------------------------------------------

    def compare(self) -> dict[str, Any]:
        start = copy.deepcopy((self._roster, self._holidays, self._sellers))  # the replay changes its own
        replay = Replay(self.ruleset, *start, self.lead_ids)
        mapper = self._app.mapper
        window = replay.window
        pause_at = time.perf_counter() + WORK_BETWEEN_PAUSES
        for count, notification in enumerate(self._log):
            if count % 128 == 0 and time.perf_counter() > pause_at:
                time.sleep(PAUSE)  # the GIL is free meanwhile: the service's other threads answer
                pause_at = time.perf_counter() + WORK_BETWEEN_PAUSES
            topic, lead_id = notification.topic, cast(UUID, notification.originator_id)
            if topic in ASSIGNMENT_TOPICS:
                if lead_id not in window:
                    continue
                if topic in RELEASED_TOPICS:
                    replay.released(lead_id)  # who held it is all that matters: not decoded
                else:
                    replay.lead_event(mapper.to_domain_event(notification))
            else:
                replay.seller_event(mapper.to_domain_event(notification))
        return replay.report(self.window.as_json())
