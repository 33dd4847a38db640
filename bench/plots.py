"""Charts of a fan-out run, as SVG files anyone can open: p99 latency against the
offered rate for every target, the server core's CPU per delivery at each rate, and
memory per idle joined connection. Written by hand (a few lines of SVG each) so the
benchmark needs no plotting library.

    .venv/bin/python -m bench.plots bench/results/<date>.json [--out docs/performance]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 840, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 300, 50, 50  # margins: the legend sits on the right
# Distinct for every common kind of colour blindness (Okabe and Ito's palette).
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4"]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values spanning [low, high] for an axis."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high:  # up to the first tick at or over the highest value
        ticks.append(first + len(ticks) * step)
    return ticks


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:g}"


def _frame(title: str, x_title: str, y_title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" '
        f'text-anchor="middle">{escape(x_title)}</text>',
        f'<text transform="translate(16 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_title)}</text>',
    ]


def _y_grid(y_ticks: Sequence[float]) -> list[str]:
    """The y axis's labels and a faint line across the plot at each of its ticks."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = []
    for y in y_ticks:
        py = TOP + plot_h * (1 - y / y_ticks[-1])
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py:.1f}" y2="{py:.1f}" '
                   'stroke="#ddd"/>')  # fmt: skip
        out.append(f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{_label(y)}</text>')
    return out


# The plot's frame, drawn over what is in it.
_BOX = (
    f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
    'fill="none" stroke="#444"/>'
)


Series = tuple[str, int, int, Sequence[tuple[float, float]]]  # name, target, run, points


def line_chart(
    title: str,
    x_title: str,
    y_title: str,
    series: Sequence[Series],
    *,
    limit: tuple[float, str] | None = None,
    y_cap: float | None = None,
) -> str:
    """One line per series of (x, y) points: a colour per target, a dash per run.
    ``limit`` draws a dashed level; values over ``y_cap`` are drawn at the top edge,
    so that a collapse past the limit doesn't flatten what happens below it."""
    points = [p for *_, s in series for p in s]
    xs = [x for x, _ in points] or [0.0]
    ys = [y for _, y in points] + ([limit[0]] if limit else [])
    top = max(ys or [1.0])
    x_ticks = _ticks(0, max(xs))
    y_ticks = _ticks(0, min(top, y_cap) if y_cap is not None else top)
    x_max, y_max = x_ticks[-1], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return LEFT + plot_w * x / x_max, TOP + plot_h * (1 - min(y, y_max) / y_max)

    out = _frame(title, x_title, y_title)
    out += _y_grid(y_ticks)
    for x in x_ticks:
        px, _ = at(x, 0)
        out.append(f'<text x="{px:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">'
                   f"{_label(x)}</text>")  # fmt: skip
    out.append(_BOX)
    if limit is not None:
        _, py = at(0, limit[0])
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py:.1f}" y2="{py:.1f}" '
                   'stroke="#c00" stroke-dasharray="4 4"/>')  # fmt: skip
        out.append(f'<text x="{LEFT + plot_w - 4}" y="{py - 5:.1f}" text-anchor="end" '
                   f'fill="#c00">{escape(limit[1])}</text>')  # fmt: skip
    for i, (name, target, run, pts) in enumerate(series):
        colour, dash = COLOURS[target % len(COLOURS)], DASHES[run % len(DASHES)]
        coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in (at(x, y) for x, y in pts))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"'
            f"{dashed}><title>{escape(name)}</title></polyline>"
        )
        for px, py in (at(x, y) for x, y in pts):
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
        ly = TOP + 10 + i * 20
        out.append(f'<line x1="{WIDTH - RIGHT + 15}" x2="{WIDTH - RIGHT + 45}" y1="{ly}" '
                   f'y2="{ly}" stroke="{colour}" stroke-width="2"{dashed}/>')  # fmt: skip
        out.append(f'<text x="{WIDTH - RIGHT + 50}" y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bar_chart(title: str, y_title: str, bars: Sequence[tuple[str, int, int, float]]) -> str:
    """One bar per (name, target, run, value), a colour per target, the run's number
    under it and its value above it."""
    y_ticks = _ticks(0, max([v for *_, v in bars] or [1.0]))
    y_max = y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = _frame(title, "", y_title)
    out += _y_grid(y_ticks)
    order = sorted(bars, key=lambda bar: (bar[1], bar[2]))  # a target's runs side by side
    several = len({run for _, _, run, _ in bars}) > 1
    slot = plot_w / max(1, len(order))
    for i, (name, target, run, value) in enumerate(order):
        colour = COLOURS[target % len(COLOURS)]
        h = plot_h * value / y_max
        x = LEFT + i * slot + slot * 0.2
        out.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(name)}</title></rect>'
        )
        out.append(f'<text x="{x + slot * 0.3:.1f}" y="{TOP + plot_h - h - 6:.1f}" '
                   f'text-anchor="middle">{value:.1f}</text>')  # fmt: skip
        if several:
            out.append(f'<text x="{x + slot * 0.3:.1f}" y="{TOP + plot_h + 18}" '
                       f'text-anchor="middle">run {run + 1}</text>')  # fmt: skip
    legend = dict.fromkeys((target, name.rsplit(" (", 1)[0] if several else name)
                           for name, target, _, _ in order)  # fmt: skip
    for i, (target, name) in enumerate(legend):
        ly = TOP + 10 + i * 20
        out.append(f'<rect x="{WIDTH - RIGHT + 15}" y="{ly - 6}" width="30" height="12" '
                   f'fill="{COLOURS[target % len(COLOURS)]}"/>')  # fmt: skip
        out.append(f'<text x="{WIDTH - RIGHT + 50}" y="{ly + 4}">{escape(name)}</text>')
    out.append(_BOX)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _runs(results: Sequence[dict[str, Any]]) -> list[tuple[str, int, int, dict[str, Any]]]:
    """Each run with its name in the legend (the run's number when there are several),
    its target's place (its colour) and its run's (its dash)."""
    several = len({r.get("round", 0) for r in results}) > 1
    targets = list(dict.fromkeys(r["target"] for r in results))
    return [
        (
            r["target"] + (f" ({r.get('round', 0) + 1})" if several else ""),
            targets.index(r["target"]),
            r.get("round", 0),
            r,
        )
        for r in results
    ]


def charts(results: Sequence[dict[str, Any]], p99_limit_ms: float) -> dict[str, str]:
    """The three charts of a run, by file suffix."""
    runs = _runs(results)

    def steps(r: dict[str, Any], key: str) -> list[tuple[float, float]]:
        return [
            (float(s["rate"]), float(s[key]))
            for s in r["steps"]
            if not s.get("retry") and s.get(key) is not None
        ]

    return {
        "p99": line_chart(
            "p99 delivery latency against the offered rate",
            "offered deliveries per second",
            "p99 latency (ms)",
            [(name, t, n, steps(r, "p99_ms")) for name, t, n, r in runs],
            limit=(p99_limit_ms, f"limit {p99_limit_ms:g} ms"),
            y_cap=4 * p99_limit_ms,
        ),
        "cpu": line_chart(
            "Server core CPU per delivery (servers and Redis)",
            "offered deliveries per second",
            "µs of CPU per delivery",
            [(name, t, n, steps(r, "core_us_per_delivery")) for name, t, n, r in runs],
        ),
        "memory": bar_chart(
            "Memory per idle joined connection",
            "KiB (RSS) per connection",
            [(name, t, n, float(r["rss_idle_kib_per_connection"])) for name, t, n, r in runs],
        ),
    }


def write(
    results: Sequence[dict[str, Any]], p99_limit_ms: float, out: Path, stem: str
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, svg in charts(results, p99_limit_ms).items():
        path = out / f"{stem}-{suffix}.svg"
        path.write_text(svg)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results file bench.fanout wrote (.json)")
    parser.add_argument("--out", type=Path, default=Path("docs/performance"))
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text())
    for path in write(data["results"], data["p99_limit_ms"], args.out, args.results.stem):
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
