"""The Success Path Analyzer over `revenue_intervals`: per stage and period (day, ISO week or
month, in UTC) the balance at the start, the in flow and out flow, the balance at the end, the
conversion to a later success stage, the average time in the stage, and for SLA stages how many
leads missed the limit in the period (`sla_due`) and how many are past it at the period's end
(`sla_past_due`).

A lead is in a stage at moment t when it entered before t and had not left before t. So for
every stage and period: end balance = start balance + in flow - out flow, and a gate (entered and
left in the same instant) always has balance 0. The analyzer reads the projection's day-by-day
counts (stays begun, stays ended by where they went, SLA limits due, met and settled) and folds the
days into periods: its cost grows with stages x days, not with the number of stage changes. Only
the day of "now", partly over, is counted from the stays themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from leadflow_shared.readstore import Tx
from leadflow_shared.views import utc_text

from .revenue import DAILY_IN, DAILY_OUT, DAILY_SLA, INTERVALS

PERIODS = ("day", "week", "month")
MAX_PERIODS = 400


class InvalidWindow(ValueError):
    pass


def periods(kind: str, start: date, end: date) -> list[tuple[date, date]]:
    """[start, end) cut into days, ISO weeks (Monday to Monday) or calendar months; the first and
    last are clipped to the window."""
    if kind not in PERIODS:
        raise InvalidWindow(f"period: one of {', '.join(PERIODS)}")
    if end <= start:
        raise InvalidWindow("to: after from")
    cuts, day = [], start
    while day < end:
        if kind == "day":
            nxt = day + timedelta(days=1)
        elif kind == "week":
            nxt = day + timedelta(days=7 - day.weekday())
        else:
            nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        cuts.append((day, min(nxt, end)))
        day = nxt
        if len(cuts) > MAX_PERIODS:
            raise InvalidWindow(f"the window holds more than {MAX_PERIODS} periods; choose a longer period")
    return cuts


def _at(day: date) -> str:
    return utc_text(datetime.combine(day, time(), UTC)) or ""


def analyze(
    tx: Tx,
    model_id: str,
    generation: int,
    stages: Sequence[Mapping[str, Any]],
    kind: str,
    start: date,
    end: date,
    now: datetime,
) -> dict[str, Any]:
    cuts = periods(kind, start, end)
    key = (model_id, generation)
    lo, hi = start.isoformat(), end.isoformat()
    # "now" counts what happened up to and including this instant
    now_text = utc_text(now + timedelta(microseconds=1)) or ""
    balance: dict[str, int] = defaultdict(int)
    for table, sign in ((DAILY_IN, 1), (DAILY_OUT, -1)):
        for stage, n in tx.fetchall(
            f"SELECT stage, SUM(n) FROM {table} WHERE model_id = ? AND generation = ? AND day < ? GROUP BY stage",
            (*key, lo),
        ):
            balance[stage] += sign * int(n)
    flows_in: dict[tuple[str, str], int] = {}
    for stage, day, n in tx.fetchall(
        f"SELECT stage, day, n FROM {DAILY_IN} WHERE model_id = ? AND generation = ? AND day >= ? AND day < ?",
        (*key, lo, hi),
    ):
        flows_in[(stage, day)] = int(n)
    flows_out: dict[tuple[str, str], list[tuple[str | None, int, float]]] = defaultdict(list)
    for stage, day, next_stage, n, seconds in tx.fetchall(
        f"SELECT stage, day, next_stage, n, seconds FROM {DAILY_OUT} WHERE model_id = ? AND generation = ? "
        "AND day >= ? AND day < ?",
        (*key, lo, hi),
    ):
        flows_out[(stage, day)].append((next_stage or None, int(n), float(seconds)))
    sla = [s["id"] for s in stages if s["type"] == "sla"]
    clock = _SlaClock(tx, key, now_text) if sla else None
    success = [s["id"] for s in stages if s["path"] == "success"]

    def targets(stage: Mapping[str, Any]) -> set[str]:
        if stage["path"] == "success":
            return set(success[success.index(stage["id"]) + 1 :])
        return set(success)

    rows = []
    for ps, pe in cuts:
        days = [(ps + timedelta(days=i)).isoformat() for i in range((pe - ps).days)]
        figures = {}
        for stage in stages:
            sid = stage["id"]
            came = sum(flows_in.get((sid, d), 0) for d in days)
            exits = [x for d in days for x in flows_out.get((sid, d), [])]
            went = sum(n for _, n, _ in exits)
            converted = sum(n for nxt, n, _ in exits if nxt in targets(stage))
            seconds = sum(s for _, _, s in exits)
            start_balance = balance[sid]
            balance[sid] = start_balance + came - went
            figures[sid] = {
                "start_balance": start_balance,
                "in_flow": came,
                "out_flow": went,
                "end_balance": balance[sid],
                "converted": converted,
                "conversion_pct": round(100.0 * converted / went, 1) if went and targets(stage) else None,
                "avg_hours_in_stage": round(seconds / went / 3600.0, 2) if went else None,
                "sla_due": clock.missed(sid, days) if clock is not None and sid in sla else None,
                "sla_past_due": clock.past_due(sid, _at(pe)) if clock is not None and sid in sla else None,
            }
        rows.append({"start": _at(ps), "end": _at(pe), "stages": figures})
    return {"periods": rows, "totals": _totals(stages, rows, targets)}


class _SlaClock:
    """SLA misses per day and leads past their limit at a moment, from the day-by-day counts; the
    day of "now" is partly over, so that day is counted from the stays themselves."""

    def __init__(self, tx: Tx, key: tuple[str, int], now: str) -> None:
        self.now, self.today = now, now[:10]
        self.days: dict[str, dict[str, tuple[int, int, int]]] = defaultdict(dict)
        for stage, day, due, met, settled in tx.fetchall(
            f"SELECT stage, day, due, met, settled FROM {DAILY_SLA} WHERE model_id = ? AND generation = ?", key
        ):
            self.days[stage][day] = (int(due), int(met), int(settled))
        midnight = self.today + "T00:00:00.000000+00:00"
        counts = {}
        for name, sql in (
            ("missed", "sla_due_at >= ? AND sla_due_at < ? AND (exited_at IS NULL OR exited_at >= sla_due_at)"),
            ("due", "sla_due_at >= ? AND sla_due_at < ?"),
            ("settled", "sla_settled_at >= ? AND sla_settled_at < ?"),
        ):
            counts[name] = dict(
                tx.fetchall(
                    f"SELECT stage, COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? AND {sql} "
                    "GROUP BY stage",
                    (*key, midnight, now),
                )
            )
        self.today_counts = counts

    def missed(self, stage: str, days: list[str]) -> int:
        total = 0
        for day in days:
            if day < self.today:
                due, met, _ = self.days[stage].get(day, (0, 0, 0))
                total += due - met
            elif day == self.today:
                total += int(self.today_counts["missed"].get(stage, 0))
        return total

    def past_due(self, stage: str, moment: str) -> int:
        """Limits passed before `moment`, less stays settled before it (`moment` is a period's
        end; one after now is counted at now)."""
        partial = moment > self.now
        cut = self.today if partial else moment[:10]
        total = sum(due - settled for day, (due, _, settled) in self.days[stage].items() if day < cut)
        if partial:
            total += int(self.today_counts["due"].get(stage, 0)) - int(self.today_counts["settled"].get(stage, 0))
        return total


def _totals(stages: Sequence[Mapping[str, Any]], rows: list[dict[str, Any]], targets: Any) -> dict[str, Any]:
    totals = {}
    for stage in stages:
        sid = stage["id"]
        each = [r["stages"][sid] for r in rows]
        went = sum(f["out_flow"] for f in each)
        converted = sum(f["converted"] for f in each)
        hours = sum((f["avg_hours_in_stage"] or 0.0) * f["out_flow"] for f in each)
        totals[sid] = {
            "start_balance": each[0]["start_balance"],
            "in_flow": sum(f["in_flow"] for f in each),
            "out_flow": went,
            "end_balance": each[-1]["end_balance"],
            "converted": converted,
            "conversion_pct": round(100.0 * converted / went, 1) if went and targets(stage) else None,
            "avg_hours_in_stage": round(hours / went, 2) if went else None,
            "sla_due": sum(f["sla_due"] for f in each) if stage["type"] == "sla" else None,
            "sla_past_due": each[-1]["sla_past_due"],
        }
    return totals
