"""Charts drawn on the server as SVG: no JavaScript, no chart library, nothing from another origin (the CSP).

Three shapes cover the dashboard: horizontal bars (one value per label, optionally stacked in series),
vertical columns over time (stacked series), and a line over time. Colours come from CSS classes (``s0``..``s5``,
``line0``..), so the markup carries no style attributes. Every label and title is escaped; every chart has a
``<title>`` and a text table fallback is the caller's (the numbers are on the page too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def hbars(
    title: str, labels: Sequence[str], series: Sequence[Series], fmt: Formatter = _plain, width: int = 520
) -> str:
    """Horizontal bars, one row per label; several series are stacked left to right."""
    if not labels:
        return _svg(width, 40, title, ['<text x="8" y="24">no data yet</text>'])
    label_w, value_w, row_h = 150, 90, 22
    plot_w = width - label_w - value_w
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals))
    height = row_h * len(labels) + 10
    body = []
    for row, label in enumerate(labels):
        y = 5 + row * row_h
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label[:24])}</text>')
        x = float(label_w)
        for index, s in enumerate(series):
            w = plot_w * s.values[row] / top if top else 0
            if w > 0:
                tip = f"{label}, {s.name}: {fmt(s.values[row])}"
                body.append(
                    f'<rect class="s{index % 6}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}">'
                    f"<title>{escape(tip)}</title></rect>"
                )
            x += w
        body.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{escape(fmt(totals[row]))}</text>')
    body.append(f'<line class="axis" x1="{label_w}" y1="2" x2="{label_w}" y2="{height - 4}"/>')
    return _svg(width, height, title, body)


def columns(
    title: str, labels: Sequence[str], series: Sequence[Series], fmt: Formatter = _plain, width: int = 520
) -> str:
    """Vertical columns over an ordered axis (days, weeks); several series are stacked."""
    height, left, bottom, top_pad = 220, 64, 36, 10
    if not labels:
        return _svg(width, 40, title, ['<text x="8" y="24">no data yet</text>'])
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals))
    slot = plot_w / len(labels)
    body = _grid(left, top_pad, plot_w, plot_h, top, fmt)
    for col, label in enumerate(labels):
        x = left + col * slot + slot * 0.15
        base: float = top_pad + plot_h
        for index, s in enumerate(series):
            h = plot_h * s.values[col] / top if top else 0
            if h > 0:
                tip = f"{label}, {s.name}: {fmt(s.values[col])}"
                body.append(
                    f'<rect class="s{index % 6}" x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}"><title>{escape(tip)}</title></rect>'
                )
            base -= h
        if len(labels) <= 12 or col % max(1, len(labels) // 8) == 0:
            body.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    return _svg(width, height, title, body)


def line(title: str, labels: Sequence[str], values: Sequence[float | None], fmt: Formatter = _plain) -> str:
    """One line over an ordered axis; a None value leaves a gap."""
    width, height, left, bottom, top_pad = 520, 220, 64, 36, 10
    known = [v for v in values if v is not None]
    if not labels or not known:
        return _svg(width, 40, title, ['<text x="8" y="24">no data yet</text>'])
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    top = _nice_max(max(known))
    step = plot_w / max(1, len(labels) - 1)
    body = _grid(left, top_pad, plot_w, plot_h, top, fmt)
    points: list[str] = []
    for index, value in enumerate(values):
        x = left + index * step
        if value is not None:
            y = top_pad + plot_h - plot_h * value / top
            points.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="s0" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{escape(labels[index])}: {escape(fmt(value))}</title></circle>"
            )
        if len(labels) <= 12 or index % max(1, len(labels) // 8) == 0:
            label = escape(labels[index])
            body.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{label}</text>')
    if len(points) > 1:
        body.insert(0, f'<polyline class="line0" points="{" ".join(points)}"/>')
    return _svg(width, height, title, body)


def _grid(left: int, top_pad: int, plot_w: float, plot_h: float, top: float, fmt: Formatter) -> list[str]:
    body = []
    for tick in range(5):
        value = top * tick / 4
        y = top_pad + plot_h - plot_h * tick / 4
        body.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    body.append(f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h:.1f}"/>')
    return body
