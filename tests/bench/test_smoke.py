"""The fan-out benchmark keeps working: a tiny run against real servers, for seconds.

Figures come from ``make bench``, never from tests: this only checks that every part
runs and that what it reports adds up.
"""

from __future__ import annotations

import pytest
from bench.fanout import Plan, ratios, report, run_target
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
    text = report([result], plan)
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
