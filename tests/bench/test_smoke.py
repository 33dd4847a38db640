"""The fan-out benchmark keeps working: a tiny run against real servers, for seconds.

Figures come from ``make bench``, never from tests: this only checks that every part
runs and that what it reports adds up.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from bench.fanout import Plan, machine, ratios, report, run_target
from bench.plots import write
from bench.tick import main as tick_main

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("target", ["embedded", "redis-w2", "cluster-w1"])
def test_a_tiny_benchmark_runs_end_to_end(target: str) -> None:
    plan = Plan(rooms=3, members=4, steps=[{"rate": 150, "seconds": 1}], resume_missed=20,
                resume_trials=1, idle_seconds=0.5,
                body_chars=2000 if target == "embedded" else 100)  # fmt: skip
    result = run_target(target, plan)
    assert result["connections"] == 12
    assert result["errors"] == 0
    # A step that looked disturbed (a busy machine) is run once more, marked as a retry.
    steps = result["steps"]
    assert [s.get("retry", False) for s in steps] in ([False], [False, True])
    for step in steps:
        assert step["messages"] > 0
        assert step["deliveries"] + step["lost"] == step["messages"] * 3  # everyone else, once
    assert result["resume_ms"]["count"] == 1
    assert result["rss_idle_kib_per_connection"] > 0
    assert result["idle_core_cores"] >= result["idle_cores"] >= 0
    assert all(step["steal_cores"] >= 0 for step in steps)
    assert all(step["core_us_per_delivery"] > 0 for step in steps)
    if target != "embedded":  # how Redis's work spread: one count per node
        assert len(result["redis_ops_per_s"]) == (3 if target == "cluster-w1" else 1)
        assert sum(result["redis_ops_per_s"]) > 0
    host = machine()
    assert all(host[k] for k in ("cpu", "kernel", "python"))
    assert host["commit"] != "absent"
    assert host["redis"][0].isdigit()  # the version of the redis-server the runs start
    text = report([result], plan, host)
    assert f"Machine: cpu {host['cpu']}; kernel {host['kernel']}" in text
    assert "max sustainable deliveries/s" in text
    assert f"messages of {plan.body_chars} characters" in text
    assert "cores per 1,000 members" in text
    assert "## Over 1 run (ranges)" in text


def test_ratios_are_taken_within_each_run_and_the_lowest_leads() -> None:
    def run(key: str, best: int, round_: int) -> dict[str, object]:
        return {"key": key, "max_sustainable": best, "round": round_}

    results = [
        run("redis-w1", 12000, 0), run("embedded", 15000, 0), run("socketio-node", 10000, 0),
        run("redis-w1", 9000, 1), run("embedded", 16000, 1), run("socketio-node", 6000, 1),
    ]  # fmt: skip
    lines = ratios(results)
    # Run 1: 1.20, run 2: 1.50 — not 21000 / 16000 across the runs.
    assert "ratio_vs_socketio_node=1.20  # each run: 1.20, 1.50" in lines
    assert "embedded_ratio_vs_socketio_node=1.50  # each run: 1.50, 2.67" in lines
    assert "ratio_vs_python_socketio=n/a" in lines  # not run


def test_the_tick_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert tick_main(["--sessions", "20", "--members", "3"]) == 0
    printed = capsys.readouterr().out
    assert "20 live sessions of 3 members" in printed
    assert printed.count("one ticking worker covers about") == 2


def test_the_charts_show_every_run(tmp_path: Path) -> None:
    def run(key: str, name: str, round_: int, p99s: list[float]) -> dict[str, object]:
        steps = [
            {"rate": 1000 * (i + 1), "p99_ms": p, "core_us_per_delivery": 20.0 + i}
            for i, p in enumerate(p99s)
        ]
        steps.append({"rate": 1000 * len(p99s), "p99_ms": 99.0, "retry": True})
        return {"key": key, "target": name, "round": round_, "steps": steps,
                "rss_idle_kib_per_connection": 19.5}  # fmt: skip

    results = [
        run("embedded", "Holdspace, embedded", 0, [1.0, 2.0, 80.0]),
        run("socketio-node", "socket.io <Node>", 0, [3.0, 4.0]),
        run("embedded", "Holdspace, embedded", 1, [1.5, 2.5]),
    ]
    paths = write(results, 50.0, tmp_path, "2026-01-01")
    assert [p.name for p in paths] == [
        "2026-01-01-p99.svg", "2026-01-01-cpu.svg", "2026-01-01-memory.svg",
    ]  # fmt: skip
    for path in paths:
        svg = ElementTree.parse(path).getroot()  # noqa: S314 (written by the test): well-formed
        titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
        for name in ("Holdspace, embedded (1)", "socket.io <Node> (1)", "Holdspace, embedded (2)"):
            assert name in titles
    chart = ElementTree.parse(paths[0]).getroot()  # noqa: S314 (written by the test)
    lines = chart.iter("{http://www.w3.org/2000/svg}polyline")
    # One line per run, one point per step tried once (the retry is not a point).
    assert [len((line.get("points") or "").split()) for line in lines] == [3, 2, 2]
