"""assignment's HTTP API: sellers and teams, holiday lists, segments, rule sets, decisions, queue, load."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date as datetime_date
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from leadflow_shared.auth import Principal, Role, lead_visible
from leadflow_shared.auth.http import Authenticator, require
from leadflow_shared.auth.setup import secure
from leadflow_shared.calendars import zone
from leadflow_shared.http import (
    BodySizeLimit,
    Check,
    health_router,
    refuse_invalid_values,
    refuse_unknown_query_parameters,
)
from leadflow_shared.store import StoreWorker
from leadflow_shared.timetravel import AsOf, DidNotExistYet

from ..application import AssignmentApplication, AssignmentNotFound, SellerNotFound
from ..domain import (
    LIST_ID_PATTERN,
    MAX_HOLIDAYS,
    AssignmentError,
    HolidayListInUse,
    HolidayListNotFound,
    InvalidCriteria,
    InvalidHolidays,
    InvalidProfile,
    InvalidRuleSet,
    QueueInUse,
    QueueNotFound,
    RuleSetNotDraft,
    RuleSetNotFound,
    SegmentNotFound,
    SellerError,
    UnknownTeam,
    availability,
    matches_everything,
)
from ..projections import (
    AssignmentReadModel,
    RevenueReadModel,
    assignment_view,
    load_report,
    roster_view,
    seller_view,
)
from .revenue_api import handle_revenue_errors, revenue_router

T = TypeVar("T")
Name = Field(min_length=1, max_length=100)
MAX_BODY_BYTES = 64 * 1024
BODY_LIMITS = {"/v1/sellers": 1024 * 1024, "/v1/rulesets": 1024 * 1024, "/v1/rulesets/": 1024 * 1024}
"""Bulk sellers and rule sets of up to 500 rules may be larger than other bodies."""
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ListId = Annotated[str, StringConstraints(pattern=LIST_ID_PATTERN)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutOfOffice(Model):
    start: AwareDatetime
    end: AwareDatetime
    note: str | None = Field(default=None, max_length=200)


class SellerFields(Model):
    """Every seller field is optional here: a PATCH changes only what it names. Only `capacity`
    (no limit) and `holiday_list` (no holiday list) may be null, because null means something
    there; any other field sent as null is refused (422 naming it) — send [] or {}."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64, examples=["Europe/Berlin"])
    working_hours: dict[str, list[tuple[str, str]]] | None = Field(
        default=None, max_length=7, examples=[{"mon": [["09:00", "17:00"]], "sat": [["22:00", "06:00"]]}]
    )
    out_of_office: list[OutOfOffice] | None = Field(default=None, max_length=100)
    capacity: int | None = Field(default=None, ge=0, description="max open leads; omit or null for no limit")
    languages: list[Label] | None = Field(default=None, max_length=50)
    territories: list[Label] | None = Field(default=None, max_length=200)
    product_lines: list[Label] | None = Field(default=None, max_length=200)
    tags: list[Label] | None = Field(default=None, max_length=100)
    active: bool | None = None
    accepts_assignments: bool | None = None
    holiday_list: ListId | None = Field(
        default=None,
        description="the holiday list the seller follows (default: the organisation's, `organisation`); null: none",
    )
    teams: list[Label] | None = Field(default=None, max_length=100)

    @field_validator(
        "name",
        "time_zone",
        "working_hours",
        "out_of_office",
        "languages",
        "territories",
        "product_lines",
        "tags",
        "active",
        "accepts_assignments",
        "teams",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not null (send [] or {} for none)")
        return value

    def profile(self) -> dict[str, Any]:
        fields = self.model_dump(mode="json", exclude_unset=True, exclude={"teams"})
        if "working_hours" in fields:
            fields["working_hours"] = {day: [list(i) for i in v] for day, v in fields["working_hours"].items()}
        return fields


class SellerIn(SellerFields):
    seller_id: str = Name
    name: str = Field(min_length=1, max_length=200)  # type: ignore[assignment]


class HolidayIn(Model):
    date: datetime_date = Field(examples=["2026-12-25"])
    name: str = Field(default="", max_length=200, examples=["Christmas Day"])
    yearly: bool = Field(default=False, description="every year on this month and day")


class HolidayListIn(Model):
    name: str = Field(min_length=1, max_length=200, examples=["Germany"])
    holidays: list[HolidayIn] = Field(max_length=MAX_HOLIDAYS)


class TeamIn(Model):
    name: str = Field(min_length=1, max_length=200)
    members: list[str] = Field(default_factory=list)


class QueueIn(Model):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)


class SegmentIn(Model):
    priority: int = 0
    match_all: bool = Field(default=False, description="the segment holds every lead (then no criteria)")
    criteria: Any = Field(
        default=None,
        validate_default=True,
        examples=[{"all_of": [{"field": "country", "op": "in", "value": ["DE", "AT"]}]}],
    )

    @field_validator("criteria")
    @classmethod
    def _criteria_or_match_all(cls, criteria: Any, info: ValidationInfo) -> Any:
        """A segment that holds every lead says so: criteria left out by mistake must not
        swallow every lead below the segment's priority."""
        match_all = info.data.get("match_all", False)
        if match_all and criteria is not None:
            raise ValueError("match_all: true holds every lead, so it takes no criteria")
        if not match_all and matches_everything(criteria):
            raise ValueError("give criteria, or match_all: true for a segment that holds every lead")
        return criteria


class TargetIn(Model):
    kind: Literal["sellers", "team", "seller", "queue"]
    seller_conditions: Any = None
    team_id: str | None = None
    seller_id: str | None = None
    queue_id: str | None = None


class RuleIn(Model):
    name: str = Name
    segment: str | None = None
    conditions: Any = None
    target: TargetIn
    method: Literal["round_robin", "load_balancing", "direct"] = "round_robin"
    available_within_hours: float | None = Field(default=None, ge=0, le=24 * 14)


class RuleSetIn(Model):
    name: str = Field(min_length=1, max_length=200)
    rules: list[RuleIn] = Field(max_length=500)

    def as_rules(self) -> list[dict[str, Any]]:
        return [rule.model_dump(mode="json") for rule in self.rules]


class SimulateIn(Model):
    """Which leads: those that arrived in [since, until), the last `last` of them; none of the
    three given: the last 100 (the application's default, `whatif.DEFAULT_LAST`)."""

    last: int | None = Field(default=None, ge=1, le=1_000_000, description="the last N leads")
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class ManualAssignmentIn(Model):
    seller_id: str | None = None
    team_id: str | None = None
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _someone(self) -> ManualAssignmentIn:
        if self.seller_id is None and self.team_id is None:
            raise ValueError("name a seller_id or a team_id")
        return self


ERRORS: dict[type[Exception], int] = {
    AssignmentNotFound: 404,
    DidNotExistYet: 404,
    SellerNotFound: 404,
    RuleSetNotFound: 404,
    SegmentNotFound: 404,
    QueueNotFound: 404,
    QueueInUse: 409,
    UnknownTeam: 404,
    HolidayListNotFound: 404,
    RuleSetNotDraft: 409,
    HolidayListInUse: 409,
    InvalidHolidays: 422,
    AssignmentError: 409,
    SellerError: 409,
    InvalidCriteria: 422,
    InvalidProfile: 422,
}


SellerReader = Annotated[Principal, Depends(require("sellers:read"))]
AssignmentReader = Annotated[Principal, Depends(require("assignments:read"))]
Assigner = Annotated[Principal, Depends(require("assignments:assign"))]
Claimer = Annotated[Principal, Depends(require("assignments:claim"))]


def _sees_every_seller(caller: Principal) -> bool:
    return caller.has(Role.ADMIN) or caller.has(Role.SALES_MANAGER)


def _may_see_seller(caller: Principal, seller_id: str) -> None:
    """A seller sees their own record only; another's is answered as if it did not exist."""
    if not _sees_every_seller(caller) and caller.subject != seller_id:
        raise SellerNotFound(seller_id)


def create_api(
    app: AssignmentApplication,
    worker: StoreWorker,
    checks: dict[str, Check],
    read_model: AssignmentReadModel,
    authenticator: Authenticator,
    *,
    self_assignment: bool = False,
    revenue_reads: RevenueReadModel | None = None,
    wake_runs: Callable[[], None] = lambda: None,
) -> FastAPI:
    api = FastAPI(title="leadflow assignment", version="0.3.0")
    api.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES, per_path=BODY_LIMITS)
    refuse_invalid_values(api)
    refuse_unknown_query_parameters(api)
    secure(api, authenticator, app, worker)
    api.include_router(health_router(checks))

    for error, status in ERRORS.items():

        async def handler(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse(status_code=status, content={"detail": str(exc)})

        api.add_exception_handler(error, handler)

    async def invalid_rules(_: Request, exc: Exception) -> JSONResponse:
        """Every problem of a rule set at once, each naming its rule (loc ["rules", index, ...])."""
        problems = getattr(exc, "problems", None)
        detail: Any = [p.as_dict() for p in problems] if problems else str(exc)
        return JSONResponse(status_code=422, content={"detail": detail})

    api.add_exception_handler(InvalidRuleSet, invalid_rules)

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await worker.call(fn, *args, **kwargs)

    async def execute(use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await worker.call(app.execute, use_case, *args, **kwargs)

    async def may_see(caller: Principal, assignment: Any) -> None:
        """The policy's lead rule; a lead the caller may not see is answered as if it did not exist."""
        owner_teams: tuple[str, ...] = ()
        claimable = False
        if caller.has(Role.SALES_MANAGER) and assignment.seller_id is not None:
            owner_teams = await call(app.seller_teams, assignment.seller_id)
        if caller.has(Role.SELLER) and self_assignment and assignment.seller_id is None:
            claimable = assignment.in_pool_for(await call(app.seller_teams, caller.subject))
        if not lead_visible(
            caller, assignment.seller_id, assignment.team_id, owner_teams=owner_teams, claimable=claimable
        ):
            raise AssignmentNotFound(assignment.lead_id)

    async def may_see_lead(caller: Principal, lead_id: UUID) -> None:
        await may_see(caller, await call(app.get_assignment, lead_id))

    if revenue_reads is not None:
        handle_revenue_errors(api)
        api.include_router(revenue_router(app, worker, revenue_reads, may_see_lead, wake_runs))

    # -- sellers and teams --

    @api.post("/v1/sellers", tags=["sellers"], dependencies=[Depends(require("sellers:write"))])
    async def add_sellers(sellers: list[SellerIn]) -> dict[str, int]:
        """Register sellers in bulk; ones already there are left as they are."""
        entries = [{"seller_id": s.seller_id, **s.profile(), "teams": s.teams} for s in sellers]
        return {"joined": await execute(app.add_sellers, entries)}

    @api.get("/v1/sellers", tags=["sellers"])
    async def list_sellers(caller: SellerReader) -> list[dict[str, Any]]:
        """Every seller (a seller: only themself)."""
        sellers = await call(app.sellers)
        if not _sees_every_seller(caller):
            sellers = [s for s in sellers if s.seller_id == caller.subject]
        return roster_view(await call(app.roster), sellers)

    @api.get("/v1/sellers/load", tags=["sellers"], dependencies=[Depends(require("sellers:report"))])
    async def seller_load() -> dict[str, Any]:
        """Open leads, capacity and recent assignments per seller; fairness per rule."""
        sellers = await call(app.seller_aggregates)
        queries = await asyncio.to_thread(read_model.load_report_queries)
        return await asyncio.to_thread(load_report, sellers, queries, app.clock.now())

    @api.put("/v1/sellers/{seller_id}", tags=["sellers"], dependencies=[Depends(require("sellers:write"))])
    async def put_seller(seller_id: str, fields: SellerFields) -> dict[str, Any]:
        """Create a seller, or change the fields given (the others stay as they are)."""
        created = await execute(app.put_seller, seller_id, fields.profile(), fields.teams)
        return {"created": created, "seller": await _seller(seller_id)}

    @api.patch("/v1/sellers/{seller_id}", tags=["sellers"], dependencies=[Depends(require("sellers:write"))])
    async def patch_seller(seller_id: str, fields: SellerFields) -> dict[str, Any]:
        await call(app.get_seller, seller_id)
        await execute(app.put_seller, seller_id, fields.profile(), fields.teams)
        return await _seller(seller_id)

    @api.post("/v1/sellers/{seller_id}/deactivate", tags=["sellers"], dependencies=[Depends(require("sellers:write"))])
    async def deactivate_seller(seller_id: str) -> dict[str, Any]:
        """No new automatic assignments (nor claims) from now on; the leads they own stay theirs."""
        await execute(app.set_seller_active, seller_id, False)
        return await _seller(seller_id)

    @api.post("/v1/sellers/{seller_id}/activate", tags=["sellers"], dependencies=[Depends(require("sellers:write"))])
    async def activate_seller(seller_id: str) -> dict[str, Any]:
        await execute(app.set_seller_active, seller_id, True)
        return await _seller(seller_id)

    @api.delete(
        "/v1/sellers/{seller_id}",
        tags=["sellers"],
        status_code=204,
        dependencies=[Depends(require("sellers:write"))],
    )
    async def delete_seller(seller_id: str) -> None:
        """The seller leaves their teams and the roster for good (their history stays). 409 while
        they own open leads (reassign them first) or the active rule set names them."""
        await execute(app.delete_seller, seller_id)

    @api.get("/v1/sellers/{seller_id}", tags=["sellers"])
    async def get_seller(seller_id: str, caller: SellerReader) -> dict[str, Any]:
        _may_see_seller(caller, seller_id)
        return await _seller(seller_id)

    async def _seller(seller_id: str) -> dict[str, Any]:
        seller = await call(app.get_seller, seller_id)
        state = await call(app.views.state, seller_id)
        return seller_view(state, seller)

    @api.get(
        "/v1/sellers/{seller_id}/availability",
        tags=["sellers"],
    )
    async def seller_availability(
        seller_id: str,
        caller: SellerReader,
        at: AwareDatetime | None = None,
        within_hours: Annotated[float, Query(ge=0, le=24 * 14)] = 0,
    ) -> dict[str, Any]:
        """Could the engine give this seller a lead at `at` (default: now)? If not, `reason` says
        why and `available_from` when they can within `within_hours` (null: not within them).
        Working hours in their zone, out of office and their holiday list; capacity aside."""
        _may_see_seller(caller, seller_id)
        state = await call(app.views.state, seller_id)
        moment = at or app.clock.now()
        calendar = (state.working_hours, state.time_zone, state.out_of_office, moment)
        reason, _ = availability(*calendar, None, state.week, state.holidays)
        _, available_at = availability(*calendar, within_hours, state.week, state.holidays)
        return {
            "seller_id": seller_id,
            "at": moment.isoformat(),
            "available": reason is None,
            "reason": reason,
            "available_from": available_at.isoformat() if available_at is not None else None,
            "holiday_list": state.holiday_list,
            "holiday": state.holidays.name_on(moment.astimezone(zone(state.time_zone)).date()),
        }

    # -- holiday lists --

    @api.put("/v1/holiday-lists/{list_id}", tags=["holidays"], dependencies=[Depends(require("rules:write"))])
    async def put_holiday_list(list_id: ListId, body: HolidayListIn) -> dict[str, Any]:
        """Define a holiday list, or replace its days. The organisation's list is `organisation`;
        sellers follow it unless their `holiday_list` names another (or null)."""
        holidays = [h.model_dump(mode="json") for h in body.holidays]
        changed = await execute(app.define_holiday_list, list_id, body.name, holidays)
        return {"list_id": list_id, "changed": changed, **(await call(app.holiday_lists)).lists[list_id]}

    @api.get("/v1/holiday-lists", tags=["holidays"], dependencies=[Depends(require("settings:read"))])
    async def list_holiday_lists() -> list[dict[str, Any]]:
        lists = await call(app.holiday_lists)
        return [{"list_id": list_id, **found} for list_id, found in sorted(lists.lists.items())]

    @api.get(
        "/v1/holiday-lists/{list_id}",
        tags=["holidays"],
        dependencies=[Depends(require("settings:read"))],
    )
    async def get_holiday_list(list_id: str, as_of: AsOf = None) -> dict[str, Any]:
        """A holiday list now, or as it stood at `as_of` (rebuilt from the log)."""
        if as_of is not None:
            found = await call(app.holiday_list_as_of, list_id, as_of)
            return {"list_id": list_id, "as_of": as_of.isoformat(), **found}
        lists = await call(app.holiday_lists)
        lists.check_exists(list_id)
        return {"list_id": list_id, **lists.lists[list_id]}

    @api.delete(
        "/v1/holiday-lists/{list_id}",
        tags=["holidays"],
        status_code=204,
        dependencies=[Depends(require("rules:write"))],
    )
    async def delete_holiday_list(list_id: str) -> None:
        await execute(app.remove_holiday_list, list_id)

    @api.put("/v1/teams/{team_id}", tags=["sellers"], dependencies=[Depends(require("sellers:write"))])
    async def put_team(team_id: str, team: TeamIn) -> dict[str, Any]:
        await execute(app.define_team, team_id, team.name, team.members)
        return {"team_id": team_id, **(await call(app.roster)).teams[team_id]}

    @api.delete(
        "/v1/teams/{team_id}", tags=["sellers"], status_code=204, dependencies=[Depends(require("sellers:write"))]
    )
    async def delete_team(team_id: str) -> None:
        """The members leave the team and it goes (its history stays). 409 while the active rule
        set routes leads to it or leads placed with it have no owner yet."""
        await execute(app.delete_team, team_id)

    @api.get("/v1/teams", tags=["sellers"], dependencies=[Depends(require("sellers:read"))])
    async def list_teams() -> list[dict[str, Any]]:
        roster = await call(app.roster)
        return [{"team_id": t, **team} for t, team in roster.teams.items()]

    # -- named queues --

    @api.put("/v1/queues/{queue_id}", tags=["queues"], dependencies=[Depends(require("rules:write"))])
    async def put_queue(queue_id: Annotated[str, Path(min_length=1, max_length=100)], queue: QueueIn) -> dict[str, Any]:
        """Define (or rename) a named queue: rules may route leads to it only once it exists."""
        await execute(app.define_queue, queue_id, queue.name, queue.description)
        return {"queue_id": queue_id, **queue.model_dump()}

    @api.get("/v1/queues", tags=["queues"], dependencies=[Depends(require("rules:read"))])
    async def list_queues() -> list[dict[str, Any]]:
        catalog = await call(app.queues)
        return [{"queue_id": q, **queue} for q, queue in sorted(catalog.queues.items())]

    @api.delete(
        "/v1/queues/{queue_id}", tags=["queues"], status_code=204, dependencies=[Depends(require("rules:write"))]
    )
    async def delete_queue(queue_id: str) -> None:
        """Refused (409) while the active rule set routes to it or leads wait in it."""
        await execute(app.remove_queue, queue_id)

    # -- segments --

    @api.put("/v1/segments/{name}", tags=["segments"], dependencies=[Depends(require("rules:write"))])
    async def put_segment(name: str, segment: SegmentIn) -> dict[str, Any]:
        await execute(app.define_segment, name, segment.priority, segment.criteria, match_all=segment.match_all)
        return {"name": name, **segment.model_dump()}

    @api.delete(
        "/v1/segments/{name}", tags=["segments"], status_code=204, dependencies=[Depends(require("rules:write"))]
    )
    async def delete_segment(name: str) -> None:
        await execute(app.remove_segment, name)

    @api.get("/v1/segments", tags=["segments"], dependencies=[Depends(require("rules:read"))])
    async def list_segments() -> list[dict[str, Any]]:
        catalog = await call(app.segments)
        ranked = sorted(catalog.segments.items(), key=lambda item: (-item[1]["priority"], item[0]))
        return [{"name": name, **segment, "match_all": segment["criteria"] is None} for name, segment in ranked]

    @api.get("/v1/segments/{name}/preview", tags=["segments"], dependencies=[Depends(require("rules:read"))])
    async def preview_segment(name: str, limit: int = 100) -> dict[str, Any]:
        """Existing leads that belong to this segment under the current definitions."""
        rows = await asyncio.to_thread(app.preview_segment, name)
        return {"segment": name, "count": len(rows), "leads": [_lead_row(r) for r in rows[:limit]]}

    @api.post("/v1/segments/{name}/preview", tags=["segments"], dependencies=[Depends(require("rules:read"))])
    async def preview_draft_segment(name: str, segment: SegmentIn, limit: int = 100) -> dict[str, Any]:
        """Existing leads that would belong to this segment if it were defined like this (nothing is saved)."""
        rows = await asyncio.to_thread(app.preview_segment, name, segment.model_dump())
        return {"segment": name, "count": len(rows), "leads": [_lead_row(r) for r in rows[:limit]]}

    # -- rule sets --

    @api.post("/v1/rulesets", tags=["rulesets"], status_code=201, dependencies=[Depends(require("rules:write"))])
    async def draft_ruleset(ruleset: RuleSetIn) -> dict[str, Any]:
        version = await execute(app.draft_ruleset, ruleset.name, ruleset.as_rules())
        return _ruleset((await call(app.rulebook)).get(version))

    @api.get("/v1/rulesets", tags=["rulesets"], dependencies=[Depends(require("rules:read"))])
    async def list_rulesets() -> dict[str, Any]:
        book = await call(app.rulebook)
        return {"active_version": book.active()["version"], "versions": [_ruleset(v) for v in book.listed()]}

    @api.get("/v1/rulesets/{version}", tags=["rulesets"], dependencies=[Depends(require("rules:read"))])
    async def get_ruleset(version: int) -> dict[str, Any]:
        return _ruleset((await call(app.rulebook)).get(version))

    @api.put("/v1/rulesets/{version}", tags=["rulesets"], dependencies=[Depends(require("rules:write"))])
    async def revise_ruleset(version: int, ruleset: RuleSetIn) -> dict[str, Any]:
        await execute(app.revise_ruleset, version, ruleset.name, ruleset.as_rules())
        return _ruleset((await call(app.rulebook)).get(version))

    @api.delete(
        "/v1/rulesets/{version}", tags=["rulesets"], status_code=204, dependencies=[Depends(require("rules:write"))]
    )
    async def delete_ruleset(version: int) -> None:
        """Delete a draft (409 for an active or retired version)."""
        await execute(app.delete_ruleset, version)

    @api.post("/v1/rulesets/{version}/activate", tags=["rulesets"], dependencies=[Depends(require("rules:write"))])
    async def activate_ruleset(version: int) -> dict[str, Any]:
        """Activate a draft; a retired version comes back as a new version (a copy, `copy_of`
        naming it), so the history stays a line. Checked against what exists now: 422 listing
        every problem."""
        active = await execute(app.activate_ruleset, version)
        return _ruleset((await call(app.rulebook)).get(active))

    @api.post("/v1/rulesets/{version}/simulate", tags=["rulesets"], dependencies=[Depends(require("rules:simulate"))])
    async def simulate(version: int, window: SimulateIn | None = None) -> dict[str, Any]:
        """What-if: each lead's first automatic decision made again with this rule set and
        compared; re-runs and manual changes listed apart. Changes nothing. The store thread only
        serves short reads (other calls are answered in between); the replay runs beside it."""
        window = window or SimulateIn()
        what_if = await call(app.what_if, version, last=window.last, since=window.since, until=window.until)
        await asyncio.to_thread(what_if.choose_leads)
        for read in what_if.reads():
            await call(read)
        return await asyncio.to_thread(what_if.compare)

    # -- leads, queue --

    @api.get("/v1/leads/{lead_id}/assignment", tags=["assignments"])
    async def get_assignment(
        lead_id: UUID, caller: AssignmentReader, full: bool = False, as_of: AsOf = None
    ) -> dict[str, Any]:
        """The current owner and every decision about the lead, each with its explanation.

        `full=true` adds, for each engine decision, every candidate seller and why it was or was
        not eligible, recomputed by the decision function from the log as it stood just before
        the decision (it costs a replay of the sellers' history; the stored events stay small).
        `as_of` answers as the lead's stream had recorded it then: the owner and the decision in
        force at that moment, and only the decisions made by then."""
        current = await call(app.get_assignment, lead_id)
        await may_see(caller, current)
        if as_of is None:
            assignment = current
        else:
            assignment = await call(app.get_assignment_as_of, lead_id, as_of)
        view = assignment_view(assignment)
        if as_of is not None:
            view["as_of"] = as_of.isoformat()
        if full:
            decisions = await asyncio.to_thread(app.explain_in_full, lead_id)
            view["decisions_in_full"] = [d for d in decisions if d["version"] <= assignment.version]
        return view

    @api.post("/v1/leads/{lead_id}/assignment", tags=["assignments"])
    async def assign_by_hand(lead_id: UUID, body: ManualAssignmentIn, caller: Assigner) -> dict[str, Any]:
        """Assign or reassign by hand, with a reason. A sales manager may place leads nobody owns
        and leads placed in one of their teams; an admin, any lead."""
        current = await call(app.get_assignment, lead_id)
        if current.seller_id is not None:
            await may_see(caller, current)
        assignment = await execute(
            app.assign_by_hand,
            lead_id,
            seller_id=body.seller_id,
            team_id=body.team_id,
            reason=body.reason,
            actor=caller.actor,
        )
        return assignment_view(assignment)

    @api.post("/v1/leads/{lead_id}/assignment/claim", tags=["assignments"])
    async def claim(lead_id: UUID, caller: Claimer) -> dict[str, Any]:
        """A seller takes a lead from the unassigned pool (self-assignment, when the deployment
        allows it): a waiting lead, or one placed in the seller's team with nobody owning it.
        Their capacity and "accepts assignments" count. 409 when someone took it first."""
        if not self_assignment:
            raise HTTPException(403, detail="self-assignment is not allowed here (ASSIGNMENT_SELF_ASSIGNMENT)")
        await may_see(caller, await call(app.get_assignment, lead_id))
        return assignment_view(await execute(app.claim, lead_id, seller_id=caller.subject))

    @api.get("/v1/queue", tags=["assignments"])
    async def waiting_leads(caller: AssignmentReader) -> list[dict[str, Any]]:
        """Leads nobody owns: the unassigned queue (queue_id null) and named queues, oldest first.
        Sellers see it only where self-assignment is allowed (the leads they may take)."""
        if not _sees_every_seller(caller) and not self_assignment:
            raise HTTPException(403, detail="self-assignment is not allowed here (ASSIGNMENT_SELF_ASSIGNMENT)")
        return [_lead_row(r) for r in await asyncio.to_thread(read_model.queue)]

    @api.post("/v1/queue/rerun", tags=["assignments"], dependencies=[Depends(require("assignments:assign"))])
    async def rerun() -> dict[str, int]:
        """Try every waiting lead again now, oldest first (no cap)."""
        return await call(app.rerun_waiting)

    return api


def _ruleset(ruleset: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in ruleset.items()}


def _lead_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items() if k != "arrival"}
