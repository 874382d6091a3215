"""A revenue model drawn as Marketo's "Success Path Analyzer" picture: one standalone SVG document.

Success-path stages run left to right as rounded boxes (gates as diamonds) with their end balance,
flows and average time in stage; arrows between them carry the conversion % of the stage on their
left. Detour stages sit in a second row below in another colour. SLA stages show their limit and,
when leads missed it, a red badge. Pure string building with the standard library; every piece of
user text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

STEP = 180  # horizontal room per stage
BOX_W, BOX_H = 130, 120
MARGIN = 30
ROW_Y = (60, 250)  # top of the success row, top of the detour row
HEIGHT = ROW_Y[1] + BOX_H + 50

SUCCESS = ("#e8f1fb", "#2b6cb0")  # fill, stroke
DETOUR = ("#fdf2e0", "#c07a12")
GATE = ("#eaf6ec", "#2f855a")
ALERT = ("#e53e3e", "#9b2c2c")
MUTED = "#5a6270"
DASH = "\u2013"  # en dash: "no conversion" on an arrow, "from DASH to" in the title


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _text(
    x: float,
    y: float,
    content: str,
    size: int,
    *,
    weight: str = "normal",
    fill: str = "#1a202c",
    max_width: float | None = None,
) -> str:
    """A centred text line; squeezed to `max_width` when it would not fit (a rough estimate)."""
    squeeze = ""
    if max_width is not None and len(content) * size * 0.6 > max_width:
        squeeze = f' textLength="{max_width:.0f}" lengthAdjust="spacingAndGlyphs"'
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
        f'text-anchor="middle"{squeeze}>{_e(content)}</text>'
    )


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _stage(stage: Mapping[str, Any], totals: Mapping[str, Any], x: float, y: float, colours: tuple[str, str]) -> str:
    """One stage as a `<g data-stage=…>`: its shape, name, balance, flows, average, SLA and badge."""
    cx, gate = x + BOX_W / 2, stage.get("type") == "gate"
    balance = _int(totals.get("end_balance"))
    flows = f"in {_int(totals.get('in_flow'))} / out {_int(totals.get('out_flow'))}"
    parts = [f'<g data-stage="{_e(stage.get("id", ""))}" data-type="{_e(stage.get("type", ""))}">']
    if gate:
        fill, stroke = GATE
        mid = y + BOX_H / 2
        points = f"{cx:.1f},{y:.1f} {x + BOX_W:.1f},{mid:.1f} {cx:.1f},{y + BOX_H:.1f} {x:.1f},{mid:.1f}"
        parts.append(f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        parts.append(_text(cx, mid - 16, str(stage.get("name", "")), 12, weight="bold", max_width=BOX_W * 0.6))
        parts.append(_text(cx, mid + 10, str(balance), 22, weight="bold", fill=stroke))
        parts.append(_text(cx, mid + 28, flows, 10, fill=MUTED, max_width=BOX_W * 0.5))
    else:
        fill, stroke = colours
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="12" ry="12" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        )
        if stage.get("phase"):
            parts.append(_text(cx, y + 14, str(stage["phase"]).upper(), 9, fill=MUTED, max_width=BOX_W - 16))
        parts.append(_text(cx, y + 32, str(stage.get("name", "")), 13, weight="bold", max_width=BOX_W - 12))
        parts.append(_text(cx, y + 64, str(balance), 26, weight="bold", fill=stroke))
        parts.append(_text(cx, y + 82, flows, 11, fill=MUTED, max_width=BOX_W - 12))
        if totals.get("avg_hours_in_stage") is not None:
            parts.append(_text(cx, y + 97, f"avg {float(totals['avg_hours_in_stage']):.1f} h", 11, fill=MUTED))
    if stage.get("sla_hours") is not None:
        sla = f"SLA {float(stage['sla_hours']):g} h"
        parts.append(_text(cx, y + (BOX_H / 2 - 34 if gate else BOX_H - 8), sla, 10, weight="bold", fill=ALERT[1]))
    due, past_due = _int(totals.get("sla_due")), _int(totals.get("sla_past_due"))
    if due > 0 or past_due > 0:
        label = " · ".join(part for part, n in ((f"{due} missed", due), (f"{past_due} past due", past_due)) if n > 0)
        top = y + BOX_H + 6
        width = min(max(BOX_W - 8, 6.8 * len(label) + 16), BOX_W + 46)  # wider than the box if it must
        parts.append(
            f'<g class="sla-badge"><rect x="{cx - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" height="20" '
            f'rx="10" ry="10" fill="{ALERT[0]}" stroke="{ALERT[1]}"/>'
        )
        parts.append(_text(cx, top + 14, label, 11, weight="bold", fill="#ffffff", max_width=width - 12) + "</g>")
    parts.append("</g>")
    return "".join(parts)


def _arrow(x_from: float, x_to: float, y: float, pct: Any) -> str:
    label = DASH if pct is None else f"{float(pct):.1f} %"
    return (
        f'<g class="conversion"><line x1="{x_from:.1f}" y1="{y:.1f}" x2="{x_to - 2:.1f}" y2="{y:.1f}" '
        f'stroke="{MUTED}" stroke-width="1.5" marker-end="url(#arrow)"/>'
        + _text((x_from + x_to) / 2, y - 6, label, 11, weight="bold", fill=MUTED)
        + "</g>"
    )


def _window(analysis: Mapping[str, Any]) -> str:
    start, end = str(analysis.get("from") or "")[:10], str(analysis.get("to") or "")[:10]
    return f"{start} {DASH} {end}" if start or end else ""


def render_success_path(analysis: Mapping[str, Any]) -> str:
    """The success-path picture of one revenue-model analysis as a standalone SVG document."""
    stages: list[Mapping[str, Any]] = list(analysis.get("stages") or [])
    totals: Mapping[str, Any] = analysis.get("totals") or {}
    success = [s for s in stages if s.get("path", "success") != "detour"]
    detours = [s for s in stages if s.get("path") == "detour"]
    width = 2 * MARGIN + max(len(success), len(detours), 2) * STEP - (STEP - BOX_W)
    title = " · ".join(
        part
        for part in (
            str(analysis.get("model_name") or "Revenue model"),
            str(analysis.get("period") or ""),
            _window(analysis),
        )
        if part
    )
    body: list[str] = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{MUTED}"/></marker></defs>',
        f'<rect x="0" y="0" width="{width}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="34" font-size="16" font-weight="bold" fill="#1a202c">{_e(title)}</text>',
    ]
    if not stages:
        body.append(_text(width / 2, HEIGHT / 2, "no stages", 16, fill=MUTED))
    for i, stage in enumerate(success):
        x, flows = MARGIN + i * STEP, totals.get(str(stage.get("id"))) or {}
        body.append(_stage(stage, flows, x, ROW_Y[0], SUCCESS))
        if i + 1 < len(success):
            body.append(_arrow(x + BOX_W, x + STEP, ROW_Y[0] + BOX_H / 2, flows.get("conversion_pct")))
    if detours:
        body.append(f'<text x="{MARGIN}" y="{ROW_Y[1] - 10}" font-size="11" fill="{DETOUR[1]}">detours</text>')
    for j, stage in enumerate(detours):
        flows = totals.get(str(stage.get("id"))) or {}
        body.append(_stage(stage, flows, MARGIN + j * STEP, ROW_Y[1], DETOUR))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" font-family="sans-serif">'
        f"<title>{_e(title)}</title>" + "".join(body) + "</svg>\n"
    )
