"""Alert rules and the Grafana dashboard: one set of rules for compose and Kubernetes, every query over
metrics the services export, every alert with its runbook in docs/operations.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy/prometheus/alerts.yml"
PROMETHEUS_RULE = REPO / "k8s/base/monitoring/prometheusrule.yaml"
DASHBOARD = REPO / "deploy/grafana/leadflow-dashboard.json"

# The metric families of issue 14's catalog (docs/operations.md, Metrics); histograms also export
# _bucket, _sum and _count, counters _total (named here with it).
HISTOGRAMS = {
    "leadflow_batch_size",
    "leadflow_apply_seconds",
    "leadflow_relay_publish_seconds",
    "leadflow_store_append_seconds",
    "http_request_duration_seconds",
}
CATALOG = HISTOGRAMS | {
    "leadflow_messages_consumed_total",
    "leadflow_messages_applied_total",
    "leadflow_messages_dead_lettered_total",
    "leadflow_messages_retried_total",
    "leadflow_consumer_lag",
    "leadflow_relay_lag",
    "leadflow_relay_published_total",
    "leadflow_deadlines_due",
    "leadflow_deadlines_overdue",
    "leadflow_ready",
    "http_requests_total",
}
FASTSTREAM_PREFIX = "faststream_"  # FastStream's Prometheus middleware (its own names)
PROMETHEUS_BUILTINS = {"up"}
WANTED_ALERTS = {
    "LeadflowDeadLettersGrowing",
    "LeadflowConsumerLagHigh",
    "LeadflowRelayLagHigh",
    "LeadflowServiceNotReady",
    "LeadflowDeadlinesOverdue",
}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "irate", "histogram_quantile",
    "or", "and", "unless", "on", "ignoring", "group_left", "group_right", "label_values", "bool", "offset",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects (label matchers, strings and [ranges] removed)."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    words = set(re.findall(r"(?<![\w$.])[a-zA-Z_:][\w:]*(?=\s*(?:\{|\)|\s|$|==|>|<|\[))", bare))
    return {
        w
        for w in words
        if w not in PROMQL_WORDS
        and not re.fullmatch(r"le|job|topic|group|partition|handler|method|status|instance|subscription|e[0-9]*", w)
    }


def family(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return name


def in_catalog(name: str) -> bool:
    return family(name) in CATALOG or name.startswith(FASTSTREAM_PREFIX) or name in PROMETHEUS_BUILTINS


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_compose_and_kubernetes_alert_on_the_same_rules() -> None:
    source = yaml.safe_load(ALERTS.read_text())
    (rule,) = [d for d in yaml.safe_load_all(PROMETHEUS_RULE.read_text()) if d]
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == source, "k8s/base/monitoring/prometheusrule.yaml: spec must be deploy/prometheus/alerts.yml"


def test_the_alerts_cover_what_the_operators_watch() -> None:
    alerts = {rule["alert"]: rule for rule in rules()}
    assert set(alerts) == WANTED_ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#alert-{name.lower()}", name
        unknown = [m for m in metric_names(rule["expr"]) if not in_catalog(m)]
        assert not unknown and metric_names(rule["expr"]), (name, unknown)


def github_anchors(markdown: str) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(anchor)
    return anchors


def test_every_runbook_url_names_a_section_of_the_operations_guide() -> None:
    anchors = github_anchors((REPO / "docs/operations.md").read_text())
    missing = [
        r["annotations"]["runbook_url"] for r in rules() if r["annotations"]["runbook_url"].split("#")[1] not in anchors
    ]
    assert not missing, f"docs/operations.md has no heading for {missing}"


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def test_the_dashboard_is_grafana_json_over_the_catalog() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "leadflow" and dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
    used = {m for expr in dashboard_queries() for m in metric_names(expr)}
    unknown = sorted(m for m in used if not in_catalog(m))
    assert not unknown, f"not exported by the services: {unknown}"
    # every leadflow_ and HTTP family is on a chart
    assert {family(m) for m in used} >= CATALOG


def test_the_metric_name_extraction_sees_what_a_query_selects() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(leadflow_apply_seconds_bucket{job=~"$job"}[5m]))) or up == 0'
    )
    assert metric_names(expr) == {"leadflow_apply_seconds_bucket", "up"}
