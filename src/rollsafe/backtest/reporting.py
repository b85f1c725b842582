"""The HTML report of a backtest: one self-contained page a person opens to see a replay.

``rollsafe backtest --data REC --report FILE.html`` writes it. For every target, one chart per
signal (each numeric source it observed; an HTTP check gives two, its value and its latency),
drawn as inline SVG on the recording's time axis, with:

* the upgrade marks (class ``upgrade-mark``, dashed blue),
* the labelled fault's start (class ``fault-mark``, red),
* every decision that changed severity (class ``decision-mark``, coloured by severity, its
  rule and summary in a ``<title>`` tooltip), and probe errors as grey ticks on the axis;

then the decisions as a table, the score, and, for a missed fault, the rules that came
closest (``explaining``). No script, no external style sheet, font or image: the page works
from a mail attachment or an air-gapped laptop. Long recordings are thinned for drawing (the
minimum and maximum of each pixel column are kept, so a spike is never lost).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rollsafe.backtest import explaining, recordings, replaying, scoring
from rollsafe.config import models
from rollsafe.domain import observations, verdicts

__all__ = ["Chart", "charts", "render"]

WIDTH = 960
HEIGHT = 150
PAD_LEFT = 64
PAD_RIGHT = 12
PAD_TOP = 10
PAD_BOTTOM = 22
_SEVERITY_COLOUR = {"ok": "#2e7d32", "warning": "#f9a825", "critical": "#c62828"}


@dataclass(frozen=True)
class Chart:
    """One signal of one target: its points (time, value) and its probe errors' times."""

    target: str
    source: str
    field: str  # value | latency
    points: tuple[tuple[float, float], ...]
    errors: tuple[float, ...]

    @property
    def title(self) -> str:
        return self.source if self.field == "value" else f"{self.source} ({self.field})"


def charts(config: models.RollsafeConfig, replay: replaying.Replay) -> list[Chart]:
    """Every numeric signal in the replay (log probes as their per-interval counts)."""
    points: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    for obs in replaying.observations_of(config, replay.recording):
        _collect(obs, points, errors)
    out = []
    for (target, source, field), listed in sorted(points.items()):
        listed.sort()
        missed = errors.get((target, source), []) if field == "value" else []
        out.append(Chart(target, source, field, tuple(listed), tuple(sorted(missed))))
    for (target, source), missed in sorted(errors.items()):
        if (target, source, "value") not in points:
            out.append(Chart(target, source, "value", (), tuple(sorted(missed))))
    return out


def _collect(
    obs: observations.Observation,
    points: dict[tuple[str, str, str], list[tuple[float, float]]],
    errors: dict[tuple[str, str], list[float]],
) -> None:
    if obs.error is not None:
        errors[(obs.target, obs.source)].append(obs.time)
        return
    if obs.value is not None and math.isfinite(obs.value):
        points[(obs.target, obs.source, "value")].append((obs.time, obs.value))
    if obs.latency_s is not None and math.isfinite(obs.latency_s):
        points[(obs.target, obs.source, "latency")].append((obs.time, obs.latency_s))


def render(
    config: models.RollsafeConfig,
    replay: replaying.Replay,
    *,
    score: scoring.ScenarioScore | None,
    explanations: dict[str, list[explaining.Near]] | None = None,
    title: str | None = None,
) -> str:
    """The whole page, as text."""
    recording = replay.recording
    drawn = charts(config, replay)
    times = [t for c in drawn for t, _ in c.points] + [t for c in drawn for t in c.errors]
    start = recording.start if recording.start is not None else min(times, default=0.0)
    end = recording.end if recording.end is not None else max(times, default=start + 1.0)
    end = max(end, start + 1.0)
    faults: dict[str, recordings.Fault] = {f.target: f for f in recording.header.faults}
    marks: dict[str, list[float]] = defaultdict(list)
    for mark in recording.marks:
        if mark.name == "upgrade":
            marks[mark.target].append(mark.time)
    decisions: dict[str, list[verdicts.Decision]] = defaultdict(list)
    for decision in replay.decisions:
        decisions[decision.target].append(decision)
    name = title or recording.name
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>rollsafe backtest: {_e(name)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>rollsafe backtest: {_e(name)}</h1>",
    ]
    if recording.header.description:
        parts.append(f'<p class="description">{_e(recording.header.description)}</p>')
    parts.append(
        f"<p>{_e(_iso(start))} to {_e(_iso(end))}; {len(recording.observations)} observations, "
        f"{len(recording.log_lines)} log lines, {len(replay.decisions)} decisions (severity "
        "changes). Legend: <span class=upgrade>upgrade</span>, <span class=fault>fault "
        "label</span>, decisions coloured by severity, grey ticks are probe errors.</p>"
    )
    for target in sorted({c.target for c in drawn} | set(faults) | set(marks)):
        parts.append(f'<section class="target" id="target-{_e(target)}">')
        fault = faults.get(target)
        label = (
            f"labelled faulty ({_e(fault.kind or 'fault')}) from {_e(_offset(fault.start - start))}"
            if fault is not None
            else "labelled healthy"
            if recording.header.labelled
            else "unlabelled"
        )
        parts.append(f"<h2>{_e(target)} <small>{label}</small></h2>")
        parts.extend(
            _svg(
                chart,
                start=start,
                end=end,
                upgrades=marks.get(target, []),
                fault=None if fault is None else fault.start,
                decisions=decisions.get(target, []),
            )
            for chart in drawn
            if chart.target == target
        )
        near = (explanations or {}).get(target)
        if near:
            parts.append('<div class="near"><h3>Missed: the rules that came closest</h3><ol>')
            parts.extend(
                f"<li><code>{_e(n.rule)}</code>: {_e(n.detail)} "
                f"<b>({n.closeness:.0%})</b> at {_e(_offset(n.time - start))}</li>"
                for n in near
            )
            parts.append("</ol></div>")
        parts.append("</section>")
    parts.append(_decision_table(replay.decisions, start=start))
    if score is not None:
        parts.append(_score_table(score, start=start))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _svg(
    chart: Chart,
    *,
    start: float,
    end: float,
    upgrades: Sequence[float],
    fault: float | None,
    decisions: Sequence[verdicts.Decision],
) -> str:
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    values = [v for _, v in chart.points]
    low = min(min(values, default=0.0), 0.0)
    high = max(values, default=1.0)
    if high <= low:
        high = low + 1.0

    def x(t: float) -> float:
        return PAD_LEFT + (t - start) / (end - start) * inner_w

    def y(v: float) -> float:
        return PAD_TOP + (1.0 - (v - low) / (high - low)) * inner_h

    out = [
        f'<figure class="chart" data-target="{_e(chart.target)}" data-source="{_e(chart.source)}"'
        f' data-field="{_e(chart.field)}">',
        f"<figcaption>{_e(chart.title)}</figcaption>",
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_e(chart.title)}">',
        f'<rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{inner_w}" height="{inner_h}" class="plot"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 9}" class="axis" text-anchor="end">'
        f"{_e(_num(high))}</text>",
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + inner_h}" class="axis" text-anchor="end">'
        f"{_e(_num(low))}</text>",
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}" class="axis">{_e(_offset(0.0))}</text>',
        f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 6}" class="axis" text-anchor="end">'
        f"{_e(_offset(end - start))}</text>",
    ]
    thinned = _thin(chart.points, start=start, end=end, columns=inner_w)
    if thinned:
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in thinned)
        out.append(f'<polyline class="series" points="{path}"/>')
    out.extend(
        f'<line class="error-tick" x1="{x(t):.1f}" x2="{x(t):.1f}" '
        f'y1="{PAD_TOP + inner_h}" y2="{PAD_TOP + inner_h - 6}"/>'
        for t in _thin_times(chart.errors, start=start, end=end, columns=inner_w)
    )
    out.extend(
        f'<line class="upgrade-mark" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{PAD_TOP}" '
        f'y2="{PAD_TOP + inner_h}"><title>upgrade at {_e(_offset(t - start))}</title></line>'
        for t in upgrades
    )
    if fault is not None:
        out.append(
            f'<line class="fault-mark" x1="{x(fault):.1f}" x2="{x(fault):.1f}" y1="{PAD_TOP}" '
            f'y2="{PAD_TOP + inner_h}"><title>fault from {_e(_offset(fault - start))}</title>'
            "</line>"
        )
    for decision in decisions:
        colour = _SEVERITY_COLOUR[decision.severity.label]
        out.append(
            f'<circle class="decision-mark severity-{decision.severity.label}" '
            f'cx="{x(decision.time):.1f}" cy="{PAD_TOP + 4}" r="3.5" fill="{colour}">'
            f"<title>{_e(_offset(decision.time - start))} {_e(decision.severity.label)} "
            f"{_e(decision.rule)}: {_e(decision.summary)}</title></circle>"
        )
    out.append("</svg></figure>")
    return "\n".join(out)


def _thin(
    points: Sequence[tuple[float, float]], *, start: float, end: float, columns: int
) -> list[tuple[float, float]]:
    """At most two points per pixel column (its min and max, in time order)."""
    if len(points) <= 2 * columns:
        return list(points)
    span = (end - start) / columns
    buckets: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for point in points:
        buckets[int((point[0] - start) / span)].append(point)
    out: list[tuple[float, float]] = []
    for column in sorted(buckets):
        listed = buckets[column]
        low = min(listed, key=lambda p: p[1])
        high = max(listed, key=lambda p: p[1])
        out.extend(sorted({low, high}))
    return out


def _thin_times(times: Iterable[float], *, start: float, end: float, columns: int) -> list[float]:
    span = (end - start) / columns
    seen: dict[int, float] = {}
    for t in times:
        seen.setdefault(int((t - start) / span), t)
    return [seen[k] for k in sorted(seen)]


def _decision_table(decisions: Sequence[verdicts.Decision], *, start: float) -> str:
    rows = [
        f'<tr class="severity-{d.severity.label}"><td>{_e(_offset(d.time - start))}</td>'
        f"<td>{_e(d.target)}</td><td>{_e(d.severity.label)}</td><td><code>{_e(d.rule)}</code>"
        f"</td><td>{_e(d.summary)}</td></tr>"
        for d in decisions
    ]
    return (
        f'<h2>Decisions</h2><table class="decisions"><thead><tr><th>at</th><th>target</th>'
        f"<th>severity</th><th>rule</th><th>summary</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table>"
    )


def _score_table(score: scoring.ScenarioScore, *, start: float) -> str:
    rows = []
    for target in score.targets:
        first = target.detection or (target.false_alarms[0] if target.false_alarms else None)
        rows.append(
            f"<tr><td>{_e(target.target)}</td><td>"
            f"{_e('-' if target.fault is None else target.fault.kind or 'fault')}</td>"
            f"<td>{_e(target.outcome)}</td><td>{_e('-' if first is None else first.rule)}</td>"
            f"<td>{_e('-' if target.delay is None else f'{target.delay:.0f} s')}</td></tr>"
        )
    counts = score.counts
    return (
        '<h2>Score</h2><table class="score"><thead><tr><th>target</th><th>fault</th>'
        "<th>outcome</th><th>first rollback</th><th>delay</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><p>TP {counts.tp}, FP {counts.fp}, FN "
        f"{counts.fn}, TN {counts.tn}</p>"
    )


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:.4g}"


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _offset(seconds: float) -> str:
    sign = "-" if seconds < 0 else "+"
    whole = round(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{days}d{clock}" if days else f"{sign}{clock}"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1000px}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}h2 small{font-weight:normal;color:#555}
figure.chart{margin:.4em 0}figcaption{font-size:.85em;color:#444}
svg .plot{fill:#fafafa;stroke:#ddd}svg .series{fill:none;stroke:#37474f;stroke-width:1}
svg .axis{font-size:10px;fill:#666}svg .error-tick{stroke:#9e9e9e}
svg .upgrade-mark{stroke:#1565c0;stroke-dasharray:4 3;stroke-width:1.5}
svg .fault-mark{stroke:#c62828;stroke-width:1.5}
.upgrade{color:#1565c0}.fault{color:#c62828}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:2px 6px}
tr.severity-critical td{background:#ffebee}tr.severity-warning td{background:#fff8e1}
.near{border-left:3px solid #c62828;padding-left:.8em}
"""
