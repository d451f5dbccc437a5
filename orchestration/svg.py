"""Small inline SVG charts for the HTML report: bars and/or a line over labelled points.

Drawn here rather than with a charting library because the report must be one self-contained
file (no JavaScript, no CDN: the machines that open it may have no internet) and the project
adds no dependencies for it. Amounts arrive as Decimals; they become floats only for pixel
positions, while every printed number (axis ends, tooltips) is the Decimal's own string.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 80, 80, 30, 28
LEGEND_Y = 14  # legends sit above the plot, clear of the axis labels
BAR_UP, BAR_DOWN, LINE = "#3b7dd8", "#d8573b", "#222222"


@dataclass(frozen=True)
class _Scale:
    low: Decimal
    high: Decimal

    @classmethod
    def of(cls, values: list[Decimal]) -> _Scale:
        low, high = min([Decimal(0), *values]), max([Decimal(0), *values])
        return cls(low, high if high > low else low + 1)

    def y(self, value: Decimal) -> float:
        span = float(self.high - self.low)
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - float(value - self.low) / span)


def _text(x: float, y: float, text: str, anchor: str = "start", css: str = "axis") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{css}">{escape(text)}</text>'
    )


def chart(
    labels: list[str],
    *,
    bars: list[Decimal] | None = None,
    line: list[Decimal] | None = None,
    title: str,
    bar_name: str = "",
    line_name: str = "",
) -> str:
    """An SVG with bars (left axis) and/or a line (right axis) over `labels` (the x axis)."""
    n = len(labels)
    if n == 0:
        return ""
    step = (WIDTH - LEFT - RIGHT) / n
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if bars:
        scale = _Scale.of(bars)
        zero = scale.y(Decimal(0))
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}" class="zero"/>'
        )
        for i, (label, value) in enumerate(zip(labels, bars, strict=True)):
            top = scale.y(value)
            parts.append(
                f'<rect x="{LEFT + i * step + step * 0.1:.1f}" y="{min(top, zero):.1f}" '
                f'width="{max(step * 0.8, 0.5):.1f}" height="{abs(zero - top):.1f}" '
                f'fill="{BAR_UP if value >= 0 else BAR_DOWN}">'
                f"<title>{escape(f'{label}: {bar_name} {value}')}</title></rect>"
            )
        parts.append(_text(LEFT - 6, TOP + 8, str(scale.high), "end"))
        parts.append(_text(LEFT - 6, HEIGHT - BOTTOM, str(scale.low), "end"))
        parts.append(_text(LEFT, LEGEND_Y, f"bars: {bar_name}", css="legend"))
    if line:
        scale = _Scale.of(line)
        points = " ".join(
            f"{LEFT + (i + 0.5) * step:.1f},{scale.y(v):.1f}" for i, v in enumerate(line)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{LINE}" stroke-width="2"/>')
        parts.append(_text(WIDTH - RIGHT + 6, TOP + 8, str(scale.high)))
        parts.append(_text(WIDTH - RIGHT + 6, HEIGHT - BOTTOM, str(scale.low)))
        parts.append(_text(WIDTH - RIGHT, LEGEND_Y, f"line: {line_name}", "end", "legend"))
        parts.append(_text(WIDTH - RIGHT + 6, scale.y(line[-1]), f"{line[-1]}", css="last"))
    parts.extend(
        _text(LEFT + (i + 0.5) * step, HEIGHT - 8, labels[i], "middle")
        for i in sorted({0, n // 2, n - 1})
    )
    parts.append("</svg>")
    return "".join(parts)
