"""Revenue models' use cases (their own module of the assignment service): the model's
lifecycle, where lead events take each lead, manual and bulk stage changes, SLA misses, and the
lead's place in a model at any time.

Marketo's logging rules, exactly: in a model whose stages are approved, leads move but no
"Change Revenue Stage" activity is logged (`logged` False); in an approved model every change is
logged, and a move to the stage the lead is in is skipped (nothing recorded); a draft moves
nobody (manual and bulk moves → LifecycleConflict, 409).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from leadflow_shared.clock import Clock
from leadflow_shared.contracts import LeadChangedV1, LeadDeletedV1, LeadSnapshot, LeadStatusChangedV1, LeadUpdatedV1
from leadflow_shared.store import ServiceApplication
from leadflow_shared.unit_of_work import UnitOfWork

from ..domain import Assignment, matches
from ..domain.criteria import InvalidCriteria, check_criteria, lead_fact
from ..domain.revenue import (
    APPROVED,
    BULK,
    CATALOG_ID,
    DELETED,
    DRAFT,
    MANUAL,
    MERGE,
    MOVED,
    REFUSED,
    SKIPPED,
    InvalidDefinition,
    LeadStage,
    LifecycleConflict,
    ModelNotFound,
    Move,
    Problem,
    RevenueCatalog,
    RevenueError,
    RevenueModel,
    StageChangeRun,
    StageNotFound,
    check_definition,
    default_definition,
    lead_stage_id,
    moves_for,
    problems,
    through_gates,
)
from .facts import lead_facts

PAGE_SIZE = 500
MAX_LEAD_IDS = 10_000


class LeadNotKnown(RevenueError, LookupError):
    def __init__(self, lead_id: UUID) -> None:
        super().__init__(f"no lead {lead_id} (assignment has not received it)")


class RunNotFound(RevenueError, LookupError):
    def __init__(self, run_id: UUID) -> None:
        super().__init__(f"no stage-change run {run_id}")


class LeadPages(Protocol):
    """assignment's lead list, as a run walks it (its read model)."""

    def last_arrival(self) -> int: ...

    def count_up_to(self, up_to: int) -> int: ...

    def lead_page(self, after: int, up_to: int, limit: int) -> list[dict[str, Any]]: ...


class RevenueCounts(Protocol):
    def leads_in_model(self, model_id: UUID, generation: int) -> int: ...


class RevenueModels:
    """The use cases; each takes the unit of work first, like assignment's own."""

    def __init__(self, app: ServiceApplication, clock: Clock) -> None:
        self.app = app
        self.clock = clock
        self.leads: LeadPages | None = None
        self.counts: RevenueCounts | None = None
        self._live_ids: list[UUID] = []

    # -- the model ------------------------------------------------------------------------

    def create_model(
        self, uow: UnitOfWork, name: str, description: str, definition: dict[str, Any] | None, actor: str | None
    ) -> RevenueModel:
        definition = definition if definition is not None else default_definition()
        check_definition(definition)
        model = RevenueModel(name=name, description=description, definition=definition, actor=actor)
        self._catalog(uow).record(model)
        uow.add(model)
        return model

    def redefine(
        self,
        uow: UnitOfWork,
        model_id: UUID,
        name: str,
        description: str,
        definition: dict[str, Any],
        actor: str | None,
    ) -> RevenueModel:
        model = self._model(uow, model_id)
        check_definition(definition)
        model.redefine(name, description, definition, actor)
        self._catalog(uow).record(model)
        uow.add(model)
        return model

    def save_draft(
        self, uow: UnitOfWork, model_id: UUID, definition: dict[str, Any], actor: str | None
    ) -> RevenueModel:
        model = self._model(uow, model_id)
        check_definition(definition)
        model.save_draft(definition, actor)
        uow.add(model)
        return model

    def approve_draft(self, uow: UnitOfWork, model_id: UUID, actor: str | None) -> RevenueModel:
        model = self._model(uow, model_id)
        model.approve_draft(actor, self.clock.now())
        uow.add(model)
        return model

    def rename_stage(
        self, uow: UnitOfWork, model_id: UUID, stage_id: str, name: str, actor: str | None
    ) -> RevenueModel:
        model = self._model(uow, model_id)
        model.rename_stage(stage_id, name, actor)
        uow.add(model)
        return model

    def merge_stage(
        self, uow: UnitOfWork, model_id: UUID, stage_id: str, into: str | None, actor: str | None
    ) -> StageChangeRun:
        """Merge a live model's stage into another (or none) and start the run that moves its leads."""
        model = self._model(uow, model_id)
        model.check_stage(stage_id)
        if into is not None:
            _check_target(model, "into", into)
        model.merge_stage(stage_id, into, actor, self.clock.now())
        uow.add(model)
        return self._start(uow, model, into, None, None, from_stage=stage_id, purpose=MERGE, actor=actor)

    def approve_stages(self, uow: UnitOfWork, model_id: UUID, actor: str | None) -> RevenueModel:
        model = self._model(uow, model_id)
        model.approve_stages(actor, self.clock.now())
        self._catalog(uow).record(model)
        uow.add(model)
        return model

    def approve(self, uow: UnitOfWork, model_id: UUID, actor: str | None) -> RevenueModel:
        """Only one model is approved at a time; leads must be in the model already."""
        model = self._model(uow, model_id)
        catalog = self._catalog(uow)
        catalog.check_may_approve(model_id)
        model.approve(self._counts().leads_in_model(model_id, model.generation), actor, self.clock.now())
        catalog.record(model)
        uow.add(model)
        return model

    def unapprove(self, uow: UnitOfWork, model_id: UUID, actor: str | None) -> RevenueModel:
        """Back to draft. Nothing is deleted: the leads' streams keep every change of this
        generation; the next approval of the stages starts a new one."""
        model = self._model(uow, model_id)
        model.unapprove(actor, self.clock.now())
        self._catalog(uow).record(model)
        uow.add(model)
        return model

    def get_model(self, model_id: UUID) -> RevenueModel:
        try:
            model: Any = self.app.repository.get(model_id)
        except AggregateNotFoundError:
            raise ModelNotFound(model_id) from None
        if not isinstance(model, RevenueModel):
            raise ModelNotFound(model_id)
        return model

    def models(self) -> list[RevenueModel]:
        try:
            catalog: RevenueCatalog = self.app.repository.get(CATALOG_ID)
        except AggregateNotFoundError:
            return []
        return [self.get_model(UUID(m)) for m in catalog.models]

    def validate(self, model_id: UUID, *, draft: bool = False) -> list[Problem]:
        model = self.get_model(model_id)
        definition = model.draft if draft and model.draft is not None else model.definition
        return problems(definition)

    # -- lead events (assignment's leads.events.v1 subscription calls these) ---------------

    def lead_received(self, uow: UnitOfWork, lead: LeadSnapshot) -> None:
        self._react(uow, lead.lead_id, {"received"}, lead_facts(lead), actor=None)

    def lead_updated(self, uow: UnitOfWork, lead: LeadUpdatedV1) -> None:
        triggers = {"updated"} | ({"score_changed"} if "score" in lead.changed_fields else set())
        self._react(uow, lead.lead_id, triggers, lead_facts(lead), actor=None)

    def status_changed(self, uow: UnitOfWork, change: LeadStatusChangedV1) -> None:
        self._react(uow, change.lead_id, {change.action}, None, actor=change.actor)

    def lead_changed(self, uow: UnitOfWork, change: LeadChangedV1) -> None:
        self._react(uow, change.lead_id, {change.change}, None, actor=change.actor)

    def lead_deleted(self, uow: UnitOfWork, deleted: LeadDeletedV1) -> None:
        """A deleted lead leaves every live model (its history stays in its streams)."""
        now = self.clock.now()
        for model in self._live(uow):
            position: LeadStage | None = uow.get(lead_stage_id(model.id, deleted.lead_id))
            if position is not None and position.current(model.generation) is not None:
                move = Move(None, DELETED, None)
                self._record(uow, model, position, [move], now, actor=deleted.actor or "system", facts={}, manual=False)

    def _react(
        self,
        uow: UnitOfWork,
        lead_id: UUID,
        triggers: Collection[str],
        facts: Mapping[str, Any] | None,
        actor: str | None,
    ) -> None:
        models = self._live(uow)
        if not models:
            return
        if facts is None:
            assignment = uow.get(lead_id)
            facts = assignment.lead if isinstance(assignment, Assignment) else {}
        now = self.clock.now()
        for model in models:
            position: LeadStage | None = uow.get(lead_stage_id(model.id, lead_id))
            current = self._settled(uow, model, position, now)
            moves = moves_for(model.definition, current, triggers, facts)
            if moves:
                position = position or LeadStage(model_id=model.id, lead_id=lead_id)
                self._record(uow, model, position, moves, now, actor=actor or "system", facts=facts, manual=False)

    # -- moves by people --------------------------------------------------------------------

    def move_lead(self, uow: UnitOfWork, model_id: UUID, lead_id: UUID, stage_id: str, actor: str | None) -> str:
        """A manual single-lead move: MOVED, or SKIPPED when the lead is in that stage already."""
        model = self._model(uow, model_id)
        self._check_moves_allowed(model)
        _check_target(model, "stage", stage_id)
        assignment = uow.get(lead_id)
        if not isinstance(assignment, Assignment) or assignment.deleted:
            raise LeadNotKnown(lead_id)
        outcome, reason = self._move_one(uow, model, lead_id, stage_id, assignment.lead, MANUAL, None, actor)
        if outcome == REFUSED:
            raise LifecycleConflict(reason or "refused")
        return outcome

    def start_run(
        self,
        uow: UnitOfWork,
        model_id: UUID,
        to_stage: str,
        *,
        lead_ids: list[UUID] | None,
        lead_filter: Any,
        actor: str | None,
    ) -> StageChangeRun:
        """Change Revenue Stage over every lead matching `lead_filter` (None: every lead) or the
        leads named, now, with no cap: the run goes on in the background, a page at a time."""
        model = self._model(uow, model_id)
        self._check_moves_allowed(model)
        _check_target(model, "stage", to_stage)
        if lead_ids is not None and len(lead_ids) > MAX_LEAD_IDS:
            raise InvalidDefinition(f"lead_ids: at most {MAX_LEAD_IDS} (use a filter for more)")
        if lead_filter is not None:
            try:
                check_criteria(lead_filter)
            except InvalidCriteria as exc:
                raise InvalidDefinition(f"filter: {exc}") from None
        ids = [str(i) for i in dict.fromkeys(lead_ids)] if lead_ids is not None else None
        return self._start(uow, model, to_stage, ids, lead_filter, from_stage=None, purpose=BULK, actor=actor)

    def _start(
        self,
        uow: UnitOfWork,
        model: RevenueModel,
        to_stage: str | None,
        lead_ids: list[str] | None,
        lead_filter: Any,
        *,
        from_stage: str | None,
        purpose: str,
        actor: str | None,
    ) -> StageChangeRun:
        pages = self._pages()
        up_to = pages.last_arrival()
        run = StageChangeRun(
            model_id=model.id,
            generation=model.generation,
            to_stage=to_stage,
            lead_ids=lead_ids,
            lead_filter=lead_filter,
            from_stage=from_stage,
            purpose=purpose,
            up_to=up_to,
            total=len(lead_ids) if lead_ids is not None else pages.count_up_to(up_to),
            actor=actor,
            at=self.clock.now(),
        )
        uow.add(run)
        return run

    def run_page(self, uow: UnitOfWork, run_id: UUID, page_size: int = PAGE_SIZE) -> bool:
        """Do the next page of a run; False when the run is finished."""
        run: StageChangeRun | None = uow.get(run_id)
        if not isinstance(run, StageChangeRun):
            raise RunNotFound(run_id)
        if run.finished:
            return False
        model = self._model(uow, run.model_id)
        now = self.clock.now()
        if run.lead_ids is not None:
            chunk = run.lead_ids[run.cursor : run.cursor + page_size]
            candidates: list[tuple[UUID, Mapping[str, Any] | None]] = [(UUID(i), None) for i in chunk]
            cursor, done = run.cursor + len(chunk), run.cursor + len(chunk) >= len(run.lead_ids)
        else:
            rows = self._pages().lead_page(run.cursor, run.up_to, page_size)
            candidates = [(UUID(r["lead_id"]), r["lead"]) for r in rows]
            cursor = rows[-1]["arrival"] if rows else run.up_to
            done = len(rows) < page_size or cursor >= run.up_to
        uow.preload([lead_id for lead_id, _ in candidates] + [lead_stage_id(model.id, i) for i, _ in candidates])
        results: list[list[str | None]] = []
        for lead_id, facts in candidates:
            assignment = uow.get(lead_id)
            if facts is None:
                if not isinstance(assignment, Assignment):
                    results.append([str(lead_id), REFUSED, "no such lead"])
                    continue
                if assignment.deleted:
                    results.append([str(lead_id), REFUSED, "the lead was deleted"])
                    continue
                facts = assignment.lead
            elif isinstance(assignment, Assignment) and assignment.deleted:
                continue  # not a lead any more: a filter does not find it
            elif run.lead_filter is not None and not _matches(run.lead_filter, facts):
                continue
            if run.from_stage is not None:
                position: LeadStage | None = uow.get(lead_stage_id(model.id, lead_id))
                if position is None or position.current(run.generation) != run.from_stage:
                    continue
            if model.generation != run.generation or model.status == DRAFT:
                results.append([str(lead_id), REFUSED, f"the model is {model.status} (generation {model.generation})"])
                continue
            outcome, reason = self._move_one(
                uow, model, lead_id, run.to_stage, facts, run.purpose, str(run.id), run.actor, now=now
            )
            results.append([str(lead_id), outcome, reason])
        run.page_done(cursor, len(candidates), results)
        if done:
            run.finish(now)
        uow.add(run)
        return not done

    def run_to_end(self, run_id: UUID, page_size: int = PAGE_SIZE) -> StageChangeRun:
        """Do a whole run here and now (tests, benches, the CLI); the job does the same."""
        while self.app.execute(self.run_page, run_id, page_size):
            pass
        return self.get_run(run_id)

    def get_run(self, run_id: UUID) -> StageChangeRun:
        try:
            run: Any = self.app.repository.get(run_id)
        except AggregateNotFoundError:
            raise RunNotFound(run_id) from None
        if not isinstance(run, StageChangeRun):
            raise RunNotFound(run_id)
        return run

    # -- SLA deadlines (the deadline runner calls this) ------------------------------------

    def deadline_fired(self, uow: UnitOfWork, aggregate: Any, deadline_id: str, purpose: str, at: datetime) -> None:
        if isinstance(aggregate, LeadStage):
            aggregate.miss_sla(purpose, at)
            uow.add(aggregate)

    # -- reads ------------------------------------------------------------------------------

    def position(self, model_id: UUID, lead_id: UUID, as_of: datetime | None = None) -> dict[str, Any]:
        """The lead's stage in the model, and its time in each stage (now, or at `as_of`,
        rebuilt from the lead's stream)."""
        model = self.get_model(model_id)
        at = as_of or self.clock.now()
        position_id = lead_stage_id(model_id, lead_id)
        if as_of is not None:
            position = self._as_of(position_id, as_of)
        else:
            try:
                position = self.app.repository.get(position_id)
            except AggregateNotFoundError:
                position = None
        names = {s["id"]: s["name"] for s in model.definition["stages"]}
        if not isinstance(position, LeadStage):
            return {"model_id": str(model_id), "lead_id": str(lead_id), "as_of": at, "stage": None, "stages": {}}
        return {
            "model_id": str(model_id),
            "lead_id": str(lead_id),
            "as_of": at,
            "generation": position.generation,
            "stage": position.stage,
            "stage_name": names.get(position.stage or "", position.stage),
            "entered_at": position.entered_at,
            "stages": {
                stage: {"name": names.get(stage, stage), **figures}
                for stage, figures in position.time_in_stages(at).items()
            },
        }

    def _as_of(self, position_id: UUID, as_of: datetime) -> LeadStage | None:
        """The lead's place as its stream had it at `as_of`, by the changes' own times (the
        service's clock: the times the analyzer and the activity log show)."""
        position = None
        domain_event: Any
        for domain_event in self.app.events.get(position_id):
            when = getattr(domain_event, "at", None) or getattr(domain_event, "fired_at", None)
            if when is not None and when > as_of:
                break
            position = domain_event.mutate(position)
        return position

    # -- internals --------------------------------------------------------------------------

    def _move_one(
        self,
        uow: UnitOfWork,
        model: RevenueModel,
        lead_id: UUID,
        to_stage: str | None,
        facts: Mapping[str, Any],
        reason: str,
        detail: str | None,
        actor: str | None,
        *,
        now: datetime | None = None,
    ) -> tuple[str, str | None]:
        now = now or self.clock.now()
        if to_stage is not None and not model.stage(to_stage).get("active", True):
            return REFUSED, f"stage {to_stage!r} is inactive"
        position: LeadStage | None = uow.get(lead_stage_id(model.id, lead_id))
        recorded = position.current(model.generation) if position is not None else None
        current = self._settled(uow, model, position, now, detail if reason == MERGE else None)
        if current == to_stage:
            # a merge's run finds the lead where the merge sent it when a lead event settled it first
            return (MOVED, None) if current != recorded else (SKIPPED, "already in that stage")
        moves = through_gates(model.definition, [Move(to_stage, reason, detail)], facts)
        position = position or LeadStage(model_id=model.id, lead_id=lead_id)
        self._record(uow, model, position, moves, now, actor=actor, facts=facts, manual=True)
        return MOVED, None

    def _settled(
        self, uow: UnitOfWork, model: RevenueModel, position: LeadStage | None, now: datetime, detail: str | None = None
    ) -> str | None:
        """The lead's stage; a lead still in a merged stage is first moved where the merge sent it."""
        if position is None:
            return None
        recorded = position.current(model.generation)
        where = model.resolve(recorded)
        if where != recorded:
            move = Move(where, MERGE, detail or f"merged {recorded}")
            self._record(uow, model, position, [move], now, actor=None, facts={}, manual=True)
        return where

    def _record(
        self,
        uow: UnitOfWork,
        model: RevenueModel,
        position: LeadStage,
        moves: Iterable[Move],
        at: datetime,
        *,
        actor: str | None,
        facts: Mapping[str, Any],
        manual: bool,
    ) -> None:
        for move in moves:
            stage = model.stage(move.to) if move.to is not None else None
            position.move(
                move.to,
                generation=model.generation,
                at=at,
                reason=move.reason,
                detail=move.detail,
                actor=actor,
                campaign=facts.get("campaign"),
                manual=manual,
                logged=model.status == APPROVED,
                sla_hours=stage.get("sla_hours") if stage is not None and stage["type"] == "sla" else None,
            )
        uow.add(position)

    def _check_moves_allowed(self, model: RevenueModel) -> None:
        if model.status == DRAFT:
            raise LifecycleConflict("the model is a draft: approve its stages before moving leads")

    def positions_of(self, lead_id: UUID) -> list[UUID]:
        """The lead's places in the live models as last seen (for loading a batch's aggregates at
        once; a model that just went live is loaded on its own)."""
        return [lead_stage_id(model_id, lead_id) for model_id in self._live_ids]

    def _live(self, uow: UnitOfWork) -> list[RevenueModel]:
        catalog: RevenueCatalog | None = uow.get(CATALOG_ID)
        self._live_ids = catalog.live_models() if catalog is not None else []
        return [m for m in (uow.get(i) for i in self._live_ids) if isinstance(m, RevenueModel)]

    def _model(self, uow: UnitOfWork, model_id: UUID) -> RevenueModel:
        model = uow.get(model_id)
        if not isinstance(model, RevenueModel):
            raise ModelNotFound(model_id)
        return model

    def _catalog(self, uow: UnitOfWork) -> RevenueCatalog:
        catalog: RevenueCatalog | None = uow.get(CATALOG_ID)
        if catalog is None:
            catalog = RevenueCatalog()
        uow.add(catalog)
        return catalog

    def _pages(self) -> LeadPages:
        if self.leads is None:
            raise RuntimeError("the revenue runs' lead pages are not wired (see bootstrap)")
        return self.leads

    def _counts(self) -> RevenueCounts:
        if self.counts is None:
            raise RuntimeError("the revenue read model is not wired (see bootstrap)")
        return self.counts


def _check_target(model: RevenueModel, field: str, stage_id: str) -> None:
    """A stage named in a request's body: one the model has (else 422 naming the field)."""
    try:
        model.check_stage(stage_id)
    except StageNotFound as exc:
        raise InvalidDefinition(f"{field}: {exc}") from None


def _matches(criteria: Any, facts: Mapping[str, Any]) -> bool:
    return matches(criteria, lambda field: lead_fact(facts, field))


__all__ = ["LeadNotKnown", "RevenueModels", "RunNotFound"]
