"""The Success Path Analyzer over `revenue_intervals`: per stage and period (day, ISO week or
month, in UTC) the balance at the start, the in flow and out flow, the balance at the end, the
conversion to a later success stage, the average time in the stage, and for SLA stages how many
leads missed the limit in the period (`sla_due`) and how many are past it at the period's end
(`sla_past_due`).

A lead is in a stage at moment t when it entered before t and had not left before t. So for
every stage and period: end balance = start balance + in flow - out flow, and a gate (entered and
left in the same instant) always has balance 0. The queries group by UTC day on covering indexes
(no table reads) and the periods are folded from days, so the cost grows with the rows in the
window, not with the number of periods.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from leadflow_shared.readstore import Tx
from leadflow_shared.views import utc_text

from .revenue import INTERVALS

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
    # "now" counts what happened up to and including this instant
    lo, hi, now_text = _at(start), _at(end), utc_text(now + timedelta(microseconds=1)) or ""
    balance: dict[str, int] = defaultdict(int)
    for stage, n in tx.fetchall(
        f"SELECT stage, COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? AND entered_at < ? "
        "AND (exited_at IS NULL OR exited_at >= ?) GROUP BY stage",
        (*key, lo, lo),
    ):
        balance[stage] = int(n)
    flows_in: dict[tuple[str, str], int] = {}
    for stage, day, n in tx.fetchall(
        f"SELECT stage, substr(entered_at, 1, 10), COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? "
        "AND entered_at >= ? AND entered_at < ? GROUP BY stage, substr(entered_at, 1, 10)",
        (*key, lo, hi),
    ):
        flows_in[(stage, day)] = int(n)
    flows_out: dict[tuple[str, str], list[tuple[str | None, int, float]]] = defaultdict(list)
    for stage, day, next_stage, n, seconds in tx.fetchall(
        f"SELECT stage, substr(exited_at, 1, 10), next_stage, COUNT(*), SUM(seconds) FROM {INTERVALS} "
        "WHERE model_id = ? AND generation = ? AND exited_at >= ? AND exited_at < ? "
        "GROUP BY stage, substr(exited_at, 1, 10), next_stage",
        (*key, lo, hi),
    ):
        flows_out[(stage, day)].append((next_stage, int(n), float(seconds or 0.0)))
    sla = [s["id"] for s in stages if s["type"] == "sla"]
    missed: dict[tuple[str, str], int] = {}
    past_due_at: dict[str, dict[str, int]] = {}
    if sla:
        for stage, day, n in tx.fetchall(
            f"SELECT stage, substr(sla_due_at, 1, 10), COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? "
            "AND sla_due_at >= ? AND sla_due_at < ? AND sla_due_at <= ? "
            "AND (exited_at IS NULL OR exited_at >= sla_due_at) GROUP BY stage, substr(sla_due_at, 1, 10)",
            (*key, lo, hi, now_text),
        ):
            missed[(stage, day)] = int(n)
        past_due_at = _past_due(tx, key, sorted({min(_at(pe), now_text) for _, pe in cuts}), lo)
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
                "conversion_pct": round(100.0 * converted / went, 1) if went else None,
                "avg_hours_in_stage": round(seconds / went / 3600.0, 2) if went else None,
                "sla_due": sum(missed.get((sid, d), 0) for d in days) if sid in sla else None,
                "sla_past_due": past_due_at[min(_at(pe), now_text)].get(sid, 0) if sid in sla else None,
            }
        rows.append({"start": _at(ps), "end": _at(pe), "stages": figures})
    return {"periods": rows, "totals": _totals(stages, rows, targets)}


def _past_due(tx: Tx, key: tuple[str, int], moments: list[str], lo: str) -> dict[str, dict[str, int]]:
    """SLA stays past their limit and not left yet, at each moment: limits passed before it, less
    stays settled (left, or the limit passed, whichever was later) before it. Counted once up to
    the window's start, then by day, so the cost does not grow with the number of periods."""
    counts: dict[str, dict[str, int]] = {}
    for column, sign in (("sla_due_at", 1), ("sla_settled_at", -1)):
        base = tx.fetchall(
            f"SELECT stage, COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? AND {column} < ? "
            "GROUP BY stage",
            (*key, lo),
        )
        by_day = tx.fetchall(
            f"SELECT stage, substr({column}, 1, 10), COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? "
            f"AND {column} >= ? AND {column} < ? GROUP BY stage, substr({column}, 1, 10)",
            (*key, lo, moments[-1]),
        )
        partial = tx.fetchall(  # the last moment may be "now", in the middle of a day
            f"SELECT stage, COUNT(*) FROM {INTERVALS} WHERE model_id = ? AND generation = ? AND {column} >= ? "
            f"AND {column} < ? GROUP BY stage",
            (*key, max(lo, moments[-1][:10] + "T00:00:00.000000+00:00"), moments[-1]),
        )
        for moment in moments:
            found = counts.setdefault(moment, defaultdict(int))
            for stage, n in base:
                found[stage] += sign * int(n)
            day = moment[:10]
            for stage, d, n in by_day:
                if d < day:
                    found[stage] += sign * int(n)
            if not moment.endswith("T00:00:00.000000+00:00"):
                for stage, n in partial:
                    found[stage] += sign * int(n)
    return counts


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
            "conversion_pct": round(100.0 * converted / went, 1) if went else None,
            "avg_hours_in_stage": round(hours / went, 2) if went else None,
            "sla_due": sum(f["sla_due"] for f in each) if stage["type"] == "sla" else None,
            "sla_past_due": each[-1]["sla_past_due"],
        }
    return totals
