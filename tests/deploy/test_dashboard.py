"""The Grafana dashboard in ``deploy/grafana``, checked against what a real worker
serves: every query names only metrics a worker exports on ``/metrics``, every metric
a worker exports has a panel, counters are read as rates, and the provisioning
files, Prometheus's scrape configuration and the monitoring compose file fit
together with ``deploy/compose.yaml``."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import Worker

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "holdspace.json"
PROVISIONING = DEPLOY / "grafana" / "provisioning"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"

# What may stand in a query besides metric names: PromQL's functions, aggregations and
# keywords (label names are read from the matchers and groupings).
PROMQL_WORDS = {
    "rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "changes",
    "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "stddev",
    "histogram_quantile", "clamp_min", "clamp_max", "abs", "round", "absent", "vector",
    "scalar", "sort", "sort_desc", "avg_over_time", "max_over_time", "min_over_time",
    "sum_over_time", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset",
}  # fmt: skip
# Prometheus adds these to every sample it scrapes.
TARGET_LABELS = {"instance", "job"}
# Unit ids from Grafana's value formats (packages/grafana-data/src/valueFormats) that
# suit counts, rates and durations: a typo would show bare numbers.
GRAFANA_UNITS = {"short", "none", "s", "ms", "cps", "ops", "reqps", "percentunit"}
PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "heatmap", "table"}
RATE_INTERVAL = "[$__rate_interval]"

IDENTIFIER = re.compile(r"(?<![\w$.])[A-Za-z_:][\w:]*")
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"\{([^}]*)\}")
MATCHER = r'\s*[A-Za-z_]\w*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
MATCHERS = re.compile(rf"(?:{MATCHER}(?:,{MATCHER})*,?)?\s*")


@dataclass(frozen=True)
class Query:
    metrics: set[str]  # every metric name the expression reads
    labels: set[str]  # every label name it matches on or groups by


def parse(expr: str) -> Query:
    """The metric and label names in a PromQL expression, as far as this dashboard
    writes PromQL: selectors, ranges, groupings, functions and arithmetic. Anything
    else in it fails the test rather than pass unread."""
    labels: set[str] = set()

    def selector(match: re.Match[str]) -> str:
        body = match.group(1)
        assert MATCHERS.fullmatch(body), f"unreadable label matchers {{{body}}} in {expr}"
        labels.update(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", body))
        return " "

    def grouping(match: re.Match[str]) -> str:
        names = [name.strip() for name in match.group(2).split(",") if name.strip()]
        assert all(re.fullmatch(r"[A-Za-z_]\w*", name) for name in names), expr
        labels.update(names)
        return f" {match.group(1)} "

    rest = SELECTOR.sub(selector, expr)
    for window in re.findall(r"\[[^\]]*\]", rest):
        assert window == RATE_INTERVAL, f"{window} in {expr}: use {RATE_INTERVAL}"
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = GROUPING.sub(grouping, rest)
    assert not re.search("[\"']", rest), f"a string outside label matchers: {expr}"
    metrics = {name for name in IDENTIFIER.findall(rest) if name not in PROMQL_WORDS}
    return Query(metrics, labels)


def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels folded inside collapsed rows included."""
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels", []))


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def graphs() -> list[dict[str, Any]]:
    """The panels that show data (not the rows that group them)."""
    return [p for p in walk(dashboard()["panels"]) if p["type"] != "row"]


def expressions() -> list[str]:
    return [target["expr"] for panel in graphs() for target in panel["targets"]]


@dataclass(frozen=True)
class Exported:
    kinds: dict[str, str]  # each sample name served -> its family's type
    families: dict[str, set[str]]  # each family -> the sample names it is served as
    labels: set[str]  # the label names on the samples


@pytest.fixture(scope="module", params=["embedded", "redis"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """What ``holdspace serve`` serves on ``/metrics``, on either backend: the hub's
    metrics come from the backend's hub, so each is scraped."""
    settings: dict[str, str] = {}
    if request.param == "redis":
        redis = request.getfixturevalue("redis_server")
        settings = {"redis_url": redis.url, "redis_prefix": f"hs:t{secrets.token_hex(4)}:"}
    worker = Worker(tmp_path_factory.mktemp(request.param), settings)
    try:
        asyncio.run(worker.ready())
        response = httpx.get(f"{worker.url}/metrics", timeout=10)
    finally:
        worker.stop()
    assert response.status_code == 200
    kinds: dict[str, str] = {}
    families: dict[str, set[str]] = {}
    labels: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        families[family.name] = {sample.name for sample in family.samples}
        for sample in family.samples:
            kinds[sample.name] = family.type
            labels.update(sample.labels)
    assert "holdspace_fanout_latency_seconds" in families, "the hub's metrics are missing"
    return Exported(kinds, families, labels)


def test_every_panel_says_what_it_shows() -> None:
    panels = list(walk(dashboard()["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert graphs(), "no panels"
    for panel in graphs():
        name = panel.get("title", "")
        assert name.strip(), f"panel {panel['id']} has no title"
        assert panel["type"] in PANEL_TYPES, name
        assert len(panel.get("description", "")) >= 60, f"{name}: say what to read from it"
        assert panel["fieldConfig"]["defaults"].get("unit") in GRAFANA_UNITS, name
        assert panel["datasource"]["uid"] == "${datasource}", name
        x, width, height = (panel["gridPos"][key] for key in ("x", "w", "h"))
        assert width > 0, name
        assert height > 0, name
        assert x >= 0, name
        assert x + width <= 24, f"{name} overflows Grafana's 24 columns"
        targets = panel.get("targets", [])
        assert targets, f"{name} has no query"
        refs = [target["refId"] for target in targets]
        assert len(refs) == len(set(refs)), name
        for target in targets:
            assert target["datasource"]["uid"] == "${datasource}", name
            assert parse(target["expr"]).metrics, f"{name}: {target['expr']} reads no metric"


def test_the_dashboard_picks_its_prometheus_and_workers() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 39
    assert board["uid"] == "holdspace"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    instance = variables["instance"]
    assert instance["datasource"]["uid"] == "${datasource}"
    query = instance["query"]
    query = query["query"] if isinstance(query, dict) else query
    assert query == "label_values(holdspace_connections, instance)"
    assert instance["includeAll"], "the picker starts on every worker"
    assert instance["multi"]
    # Every selector honours the worker picker.
    for expr in expressions():
        for name in re.findall(r"\bholdspace_\w+", expr):
            bodies = re.findall(rf"\b{name}\{{([^}}]*)\}}", expr)
            mentions = len(re.findall(rf"\b{name}\b", expr))
            assert len(bodies) == mentions, f"{name} without the worker picker: {expr}"
            assert all('instance=~"$instance"' in body for body in bodies), expr


@pytest.mark.integration
def test_every_query_reads_only_what_a_worker_serves(exported: Exported) -> None:
    board = dashboard()
    instance = {v["name"]: v for v in board["templating"]["list"]}["instance"]
    picker = re.fullmatch(r"label_values\((\w+), instance\)", instance["definition"])
    assert picker is not None
    assert picker.group(1) in exported.kinds
    known_labels = exported.labels | TARGET_LABELS
    for expr in expressions():
        query = parse(expr)
        named = set(re.findall(r"holdspace_[a-z_]+", expr))
        assert named <= query.metrics, expr
        assert query.metrics <= set(exported.kinds), (
            f"{expr} reads {sorted(query.metrics - set(exported.kinds))}, which no worker serves"
        )
        assert query.labels <= known_labels, f"{expr}: labels {query.labels - known_labels}"
        for name in query.metrics:
            mentions = len(re.findall(rf"\b{name}\b", expr))
            if exported.kinds[name] == "gauge":
                assert not re.search(rf"\b(?:i?rate|increase)\(\s*{name}\b", expr), expr
            else:  # counters and the histogram's series only ever grow: read their rate
                rates = re.findall(
                    rf"\brate\(\s*{name}\{{[^}}]*\}}{re.escape(RATE_INTERVAL)}\s*\)", expr
                )
                assert len(rates) == mentions, f"{name} not as rate(…{RATE_INTERVAL}): {expr}"


@pytest.mark.integration
def test_every_metric_a_worker_serves_has_a_panel(exported: Exported) -> None:
    read = set().union(*(parse(expr).metrics for expr in expressions()))
    missing = [name for name, samples in exported.families.items() if not samples & read]
    assert missing == [], f"metrics without a panel: {missing}"


def compose(name: str) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return loaded


def load_yaml(path: Path) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's volumes: source (a path as written, or a named volume) -> where the
    container sees it."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        found[source] = target
    return found


def test_the_monitoring_services_leave_the_deployment_as_it_was() -> None:
    """``compose.monitoring.yaml`` only adds: started with ``compose.yaml`` it brings
    Prometheus and Grafana, changes nothing of the four services, and exposes nothing
    beyond loopback."""
    base = compose("compose.yaml")["services"]
    monitoring = compose("compose.monitoring.yaml")
    services = monitoring["services"]
    assert set(services) == {"prometheus", "grafana"}
    assert not set(services) & set(base)
    assert "networks" not in monitoring, "they join compose.yaml's network as it is"
    for name, service in services.items():
        for source in mounts(service):
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source
            else:
                assert source in monitoring["volumes"], source
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} published beyond loopback: {port}"
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GRAFANA_ADMIN_PASSWORD:?"), "no password in the file"


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    grafana = compose("compose.monitoring.yaml")["services"]["grafana"]
    mounted = mounts(grafana)
    assert mounted["./grafana/provisioning"] == "/etc/grafana/provisioning"
    target = PurePosixPath(mounted["./grafana/holdspace.json"])
    (provider,) = load_yaml(PROVISIONING / "dashboards" / "holdspace.yaml")["providers"]
    assert provider["type"] == "file"
    assert target.parent == PurePosixPath(provider["options"]["path"])
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == str(target)


def test_grafana_reads_the_prometheus_that_scrapes_the_workers() -> None:
    (source,) = load_yaml(PROVISIONING / "datasources" / "prometheus.yaml")["datasources"]
    assert source["type"] == "prometheus"
    assert source["isDefault"], "the dashboard's ${datasource} starts on the default"
    address = urlsplit(source["url"])
    services = compose("compose.monitoring.yaml")["services"]
    assert address.hostname in services
    assert address.port == 9090
    # $__rate_interval is four scrape intervals: Grafana must know Prometheus's.
    scraping = load_yaml(PROMETHEUS)
    assert source["jsonData"]["timeInterval"] == scraping["global"]["scrape_interval"]


def test_prometheus_scrapes_every_compose_worker() -> None:
    base = compose("compose.yaml")["services"]
    workers = {
        f"{name}:{service['environment']['HOLDSPACE_PORT']}"
        for name, service in base.items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }
    assert workers == {"worker1:8000", "worker2:8000"}
    (job,) = load_yaml(PROMETHEUS)["scrape_configs"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    assert targets == workers
    prometheus = compose("compose.monitoring.yaml")["services"]["prometheus"]
    config = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    assert mounts(prometheus)["./prometheus/prometheus.yml"] == config.split("=", 1)[1]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool here")
def test_promtool_accepts_the_scrape_configuration() -> None:
    checked = subprocess.run(
        ["promtool", "check", "config", str(PROMETHEUS)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
