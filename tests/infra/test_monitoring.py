"""The Prometheus alert rules and the Grafana dashboard in infra/monitoring/ read only
metrics the processes serve: a metric renamed in the code fails here, not on call."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from services.audit.metrics import audit_sampler
from services.kit.metrics import ProcessMetrics
from tests.fixtures.storage import REPO_ROOT

MONITORING = REPO_ROOT / "infra" / "monitoring"
METRIC = re.compile(r"\bassent_[a-z_]+")


def _served() -> set[str]:
    metrics = ProcessMetrics("audit")
    audit_sampler(metrics)
    registry: CollectorRegistry = metrics.registry
    names = set()
    # A counter is exposed as <name>_total; a histogram as _bucket, _sum and _count.
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    for family in registry.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
    return names


def _expressions(path: Path) -> list[str]:
    if path.suffix == ".json":
        dashboard = json.loads(path.read_text())
        return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load(path.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def test_every_metric_the_alerts_and_the_dashboard_read_is_served() -> None:
    served = _served()
    read = {
        name
        for path in (MONITORING / "alerts.yaml", MONITORING / "dashboard.json")
        for expression in _expressions(path)
        for name in METRIC.findall(expression)
    }

    assert read, "no metric is read"
    assert read <= served, f"read but never served: {sorted(read - served)}"


def test_the_alerts_cover_a_growing_backlog_a_stuck_log_and_errors() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}

    assert {"AssentOutboxBacklogGrowing", "AssentNoCheckpoint", "AssentErrorRateHigh"} <= names
