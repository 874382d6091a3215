"""The Success Path Analyzer picture: a well-formed SVG with one findable group per stage."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from assignment.projections.picture import render_success_path

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"
DASH = "\u2013"


def stage(
    sid: str, name: str, *, type_: str = "inventory", path: str = "success", sla: int | None = None
) -> dict[str, Any]:
    return {"id": sid, "name": name, "type": type_, "path": path, "phase": "marketing", "sla_hours": sla}


def flows(
    end: int, *, pct: float | None = None, avg: float | None = None, due: int = 0, past: int = 0
) -> dict[str, Any]:
    return {
        "start_balance": 0,
        "in_flow": end + 7,
        "out_flow": 7,
        "end_balance": end,
        "conversion_pct": pct,
        "avg_hours_in_stage": avg,
        "sla_due": due,
        "sla_past_due": past,
    }


def analysis(stages: list[dict[str, Any]], totals: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "model_id": "m-1",
        "model_name": "Default funnel",
        "generation": 1,
        "period": "week",
        "from": "2026-11-01T00:00:00+00:00",
        "to": "2026-12-01T00:00:00+00:00",
        "stages": stages,
        "totals": totals,
        "periods": [],
    }


FUNNEL = analysis(
    [
        stage("new", "New"),
        stage("mql", "MQL", type_="sla", sla=72),
        stage("gate", "Qualified?", type_="gate"),
        stage("won", "Won"),
        stage("nurture", "Nurture", path="detour"),
        stage("lost", "Lost", path="detour"),
    ],
    {
        "new": flows(15, pct=62.5, avg=30.2),
        "mql": flows(4, pct=None, avg=12.0, due=3, past=1),
        "gate": flows(0, pct=100.0),
        "won": flows(9),
        "nurture": flows(21, avg=200.0),
        "lost": flows(5),
    },
)


def groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.attrib["data-stage"]: g for g in root.iter(f"{SVG}g") if "data-stage" in g.attrib}


def text_of(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def top(element: ET.Element) -> float:
    shape = element.find(f"{SVG}rect")
    if shape is not None:
        return float(shape.attrib["y"])
    polygon = element.find(f"{SVG}polygon")
    assert polygon is not None
    return min(float(point.split(",")[1]) for point in polygon.attrib["points"].split())


def test_one_group_per_stage_with_its_name_balance_and_flows() -> None:
    svg = render_success_path(FUNNEL)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<script" not in svg and "href" not in svg  # standalone: no scripts, no external resources
    found = groups(svg)
    assert set(found) == {s["id"] for s in FUNNEL["stages"]}
    for s in FUNNEL["stages"]:
        texts = text_of(found[s["id"]])
        assert texts.count(s["name"]) == 1
        assert str(FUNNEL["totals"][s["id"]]["end_balance"]) in texts
    assert "in 22 / out 7" in text_of(found["new"])
    assert "avg 30.2 h" in text_of(found["new"])
    assert not any(t.startswith("avg") for t in text_of(found["won"]))  # no average: no line
    assert found["gate"].find(f"{SVG}polygon") is not None  # the gate is a diamond
    title = ET.fromstring(svg).find(f"{SVG}text")
    assert title is not None and title.text == f"Default funnel · week · 2026-11-01 {DASH} 2026-12-01"


def test_user_text_is_escaped() -> None:
    nasty = "<script>&\"'"
    svg = render_success_path(analysis([stage("x&<y", nasty)], {"x&<y": flows(3)}))
    assert "<script>" not in svg
    found = groups(svg)  # still parses
    assert set(found) == {"x&<y"}
    assert nasty in text_of(found["x&<y"])


def test_arrows_carry_the_conversion_of_the_left_stage_and_detours_sit_below() -> None:
    svg = render_success_path(FUNNEL)
    root = ET.fromstring(svg)
    labels = [text_of(g) for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "conversion"]
    assert labels == [["62.5 %"], [DASH], ["100.0 %"]]  # new → mql → gate → won; won has no arrow
    found = groups(svg)
    success_bottom = max(top(found[sid]) for sid in ("new", "mql", "gate", "won"))
    assert all(top(found[sid]) > success_bottom for sid in ("nurture", "lost"))
    nurture = found["nurture"].find(f"{SVG}rect")
    new = found["new"].find(f"{SVG}rect")
    assert nurture is not None and new is not None and nurture.attrib["fill"] != new.attrib["fill"]
    assert "in 28 / out 7" in text_of(found["nurture"])


def test_sla_stage_shows_its_limit_and_a_red_badge_only_when_missed() -> None:
    found = groups(render_success_path(FUNNEL))
    assert "SLA 72 h" in text_of(found["mql"])
    assert "3 missed · 1 past due" in text_of(found["mql"])
    badge = [g for g in found["mql"].iter(f"{SVG}g") if g.attrib.get("class") == "sla-badge"]
    assert len(badge) == 1
    rect = badge[0].find(f"{SVG}rect")
    assert rect is not None and rect.attrib["fill"] == "#e53e3e"

    on_time = analysis([stage("mql", "MQL", type_="sla", sla=72)], {"mql": flows(4)})
    texts = text_of(groups(render_success_path(on_time))["mql"])
    assert "SLA 72 h" in texts
    assert not any("missed" in t or "past due" in t for t in texts)


def test_width_grows_with_the_stages() -> None:
    few = ET.fromstring(render_success_path(analysis([stage(str(i), f"S{i}") for i in range(2)], {})))
    many = ET.fromstring(render_success_path(analysis([stage(str(i), f"S{i}") for i in range(6)], {})))
    assert float(many.attrib["width"]) - float(few.attrib["width"]) == 4 * 180


def test_no_stages_is_still_a_picture() -> None:
    svg = render_success_path(analysis([], {}))
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert "no stages" in [t.text for t in root.iter(f"{SVG}text")]
    assert groups(svg) == {}
