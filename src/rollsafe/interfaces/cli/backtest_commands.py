"""``rollsafe backtest`` and ``rollsafe record``: policies measured on recorded history.

``backtest -c CONFIG --data FILE`` replays one recording through the live judge on virtual
time and prints every decision (time, target, severity, rule, evidence); when the recording is
labelled, its score too. ``backtest -c CONFIG --corpus DIR`` replays every labelled recording
of a directory and prints true/false positives and negatives per scenario and in total,
precision, recall and detection delay. ``record -c CONFIG --since 7d -o FILE`` builds a
recording from Prometheus (the config's promql probes), log files (its log probes) and log
platforms (its elasticsearch, loki, sls and cls probes, asked once per interval).

Nothing is executed, stored or notified by either command.

Exit codes: 0 done; 1 a ``--min-precision`` / ``--min-recall`` bar was not met; 2 usage,
configuration or recording error (every problem printed on stderr, ``FILE:LINE: ...``).

``--json`` outputs are stable and documented in docs/recording-format.md:
``{"format": "rollsafe-backtest", "version": 1, ...}`` for ``--data`` and
``{"format": "rollsafe-backtest-corpus", "version": 1, ...}`` for ``--corpus``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
import zoneinfo
from pathlib import Path
from typing import Any

import typer
from rich import markup
from rich.console import Console
from rich.table import Table

from rollsafe.backtest import (
    capturing,
    corpora,
    explaining,
    recordings,
    replaying,
    reporting,
    scoring,
)
from rollsafe.config import durations, models
from rollsafe.domain import ids, observations
from rollsafe.interfaces.cli import config_commands, context, tables

__all__ = ["BACKTEST_FORMAT", "CORPUS_FORMAT", "JSON_VERSION", "backtest", "record", "register"]

BACKTEST_FORMAT = "rollsafe-backtest"
CORPUS_FORMAT = "rollsafe-backtest-corpus"
JSON_VERSION = 1
EXIT_BELOW = 1
_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red"}
_REAL_TIMES = 365 * 86400.0  # recordings starting later than 1971 carry real timestamps


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("backtest")(backtest)
    app.command("record")(record)


# --------------------------------------------------------------------------- backtest


def backtest(
    config: Path = typer.Option(..., "--config", "-c", help="rollsafe.yaml whose rules are tested"),
    *,
    data: Path | None = typer.Option(None, "--data", help="One recording (.jsonl) to replay"),
    corpus: Path | None = typer.Option(
        None, "--corpus", help="A directory of labelled recordings to score"
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    min_precision: float | None = typer.Option(
        None, "--min-precision", help="Exit 1 when precision is below this (0..1)"
    ),
    min_recall: float | None = typer.Option(
        None, "--min-recall", help="Exit 1 when recall is below this (0..1)"
    ),
    half: str | None = typer.Option(
        None,
        "--half",
        help="With --corpus: only recordings of this half (design, held-out, held-out-2)",
    ),
    report: Path | None = typer.Option(
        None, "--report", help="With --data: also write a self-contained HTML page (charts)"
    ),
) -> None:
    """Replay recorded history through the judge; print decisions, or scores for a corpus."""
    if (data is None) == (corpus is None):
        context.fail("give exactly one of --data FILE and --corpus DIR")
    if corpus is not None and not corpus.is_dir():
        context.fail(f"--corpus {corpus}: not a directory")
    if report is not None and data is None:
        context.fail("--report needs --data (one recording per page)")
    loaded = config_commands.load_or_exit(config)
    try:
        counts: scoring.Counts | None = None
        if data is not None:
            counts = _backtest_one(
                loaded.config, data, config_path=loaded.path, as_json=as_json, report=report
            )
        elif corpus is not None:
            counts = _backtest_corpus(
                loaded.config, corpus, config_path=loaded.path, as_json=as_json, half=half
            )
    except recordings.RecordingError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(context.EXIT_ERROR) from exc
    if counts is not None:
        _enforce(counts, min_precision=min_precision, min_recall=min_recall)


def _backtest_one(
    config: models.RollsafeConfig,
    data: Path,
    *,
    config_path: Path,
    as_json: bool,
    report: Path | None,
) -> scoring.Counts | None:
    replayed = replaying.replay(config, recordings.read(data))
    scored = scoring.score(replayed) if replayed.recording.header.labelled else None
    near = _explain(config, scored)
    if report is not None:
        page = reporting.render(config, replayed, score=scored, explanations=near)
        try:
            report.write_text(page, encoding="utf-8")
        except OSError as exc:
            context.fail(f"--report {report}: cannot write: {exc.strerror or exc}")
    if as_json:
        start = replayed.recording.start
        body = {
            "format": BACKTEST_FORMAT,
            "version": JSON_VERSION,
            "config": str(config_path),
            "file": str(data),
            **replayed.to_json(),
            "score": None if scored is None else scored.to_json(),
            "near_misses": {
                target: [n.to_json(start=start) for n in listed] for target, listed in near.items()
            },
        }
        typer.echo(json.dumps(body, indent=2, sort_keys=True, allow_nan=False, default=str))
        return None if scored is None else scored.counts
    console = Console(highlight=False)
    recording_ = replayed.recording
    _note_unconfigured(replayed.unconfigured_targets)
    console.print(
        f"[bold]{markup.escape(recording_.name)}[/]: {len(recording_.observations)} "
        f"observations, {len(recording_.log_lines)} log lines "
        f"({replayed.observations} judged observations), {len(recording_.marks)} marks, "
        f"{_span(recording_)}"
    )
    table = Table(title=f"{len(replayed.decisions)} decisions (severity changes)")
    real = _real_times(recording_)
    table.add_column("at", no_wrap=True)
    if real:
        table.add_column("time (UTC)", no_wrap=True)
    for name in ("target", "severity", "rule"):
        table.add_column(name, no_wrap=True)
    table.add_column("evidence", overflow="fold")
    for decision in replayed.decisions:
        cells = [_offset(decision.time - (recording_.start or 0.0))]
        if real:
            cells.append(_iso(decision.time))
        label = decision.severity.label
        cells.extend(
            [
                markup.escape(decision.target),
                f"[{_STYLE[label]}]{label}[/]",
                markup.escape(decision.rule),
                markup.escape(decision.summary),
            ]
        )
        table.add_row(*cells)
    tables.show(table, console=console)
    if scored is None:
        console.print("unlabelled recording: no score (add labels to its header to score it)")
        return None
    _print_scenario(console, scored)
    for target, listed in near.items():
        console.print(
            f"[bold]{markup.escape(target)}[/]: the fault was missed; the rules that came "
            "closest to rolling it back (100% is a rule's limit):"
        )
        for item in listed:
            console.print(f"  {markup.escape(item.line())}")
    if report is not None:
        console.print(f"report written to {markup.escape(str(report))}")
    return scored.counts


def _explain(
    config: models.RollsafeConfig, scored: scoring.ScenarioScore | None
) -> dict[str, list[explaining.Near]]:
    """For every labelled fault no rule rolled back: the rules that came closest."""
    if scored is None:
        return {}
    return {
        target.target: explaining.near_misses(
            config, scored.replay.recording, target=target.target, since=target.fault.start
        )
        for target in scored.targets
        if target.fault is not None and target.detection is None
    }


def _backtest_corpus(
    config: models.RollsafeConfig,
    directory: Path,
    *,
    config_path: Path,
    as_json: bool,
    half: str | None,
) -> scoring.Counts:
    result = corpora.run(config, directory, half=half)
    totals = result.totals
    if as_json:
        body = {
            "format": CORPUS_FORMAT,
            "version": JSON_VERSION,
            "config": str(config_path),
            **result.to_json(),
        }
        typer.echo(json.dumps(body, indent=2, sort_keys=True, allow_nan=False, default=str))
        return totals.counts
    for scenario in result.scenarios:
        _note_unconfigured(scenario.replay.unconfigured_targets, scenario.replay.recording.name)
    console = Console(highlight=False)
    table = Table(title=f"backtest of {len(result.scenarios)} labelled recordings")
    for name in ("scenario", "target", "fault", "outcome", "first rollback", "delay"):
        table.add_column(name, no_wrap=name != "first rollback", overflow="fold")
    table.add_column("warnings", justify="right")
    for scenario in result.scenarios:
        warnings = scenario.replay.warnings
        for position, target in enumerate(scenario.targets):
            first = target.detection or (target.false_alarms[0] if target.false_alarms else None)
            outcome = target.outcome
            style = "red" if ("FP" in outcome or "FN" in outcome) else "green"
            table.add_row(
                markup.escape(scenario.replay.recording.name) if position == 0 else "",
                markup.escape(target.target),
                markup.escape(target.fault.kind or "fault") if target.fault else "-",
                f"[{style}]{outcome}[/]",
                "-" if first is None else markup.escape(f"{first.rule}: {first.summary}"),
                "-" if target.delay is None else _duration(target.delay),
                str(warnings) if position == 0 else "",
            )
    tables.show(table, console=console)
    counts = totals.counts
    console.print(
        f"total: TP {counts.tp}  FP {counts.fp}  FN {counts.fn}  TN {counts.tn}   "
        f"precision {_ratio(counts.precision)}  recall {_ratio(counts.recall)}   "
        f"detection delay median {_maybe_duration(totals.median_delay)}, "
        f"max {_maybe_duration(totals.max_delay)}"
    )
    _print_families(console, result)
    for skipped in result.skipped:
        console.print(f"skipped {markup.escape(skipped.file)}: {markup.escape(skipped.reason)}")
    return counts


def _print_families(console: Console, result: corpora.CorpusResult) -> None:
    rows = result.table()
    if all(family == "-" for family, _, _ in rows):
        return  # no recording names its family: the totals above say it all
    table = Table(title="per family and half")
    for name in ("family", "half", "recordings", "TP", "FP", "FN", "TN"):
        table.add_column(name, justify="left" if name in ("family", "half") else "right")
    for name in ("precision", "recall", "median delay", "rollbacks"):
        table.add_column(name, justify="right")
    for family, half, group in [*rows, *(("all", g.name, g) for g in result.groups(by="half"))]:
        totals = group.totals
        counts = totals.counts
        table.add_row(
            markup.escape(family),
            markup.escape(half),
            str(len(group.scenarios)),
            str(counts.tp),
            str(counts.fp),
            str(counts.fn),
            str(counts.tn),
            _ratio(counts.precision),
            _ratio(counts.recall),
            _maybe_duration(totals.median_delay),
            str(sum(s.criticals for s in group.scenarios)),
        )
    console.print(table)
    week = result.week_rollbacks
    if week is not None:
        console.print(f"rollbacks over the healthy week(s): {week}")


def _print_scenario(console: Console, scored: scoring.ScenarioScore) -> None:
    table = Table(title="score against the recording's labels")
    for name in ("target", "fault", "outcome", "first rollback", "delay"):
        table.add_column(name, overflow="fold")
    for target in scored.targets:
        first = target.detection or (target.false_alarms[0] if target.false_alarms else None)
        table.add_row(
            markup.escape(target.target),
            "-"
            if target.fault is None
            else markup.escape(
                f"{target.fault.kind or 'fault'} from "
                f"{_offset(target.fault.start - (scored.replay.recording.start or 0.0))}"
            ),
            target.outcome,
            "-" if first is None else markup.escape(f"{first.rule}: {first.summary}"),
            "-" if target.delay is None else _duration(target.delay),
        )
    tables.show(table, console=console)
    counts = scored.counts
    console.print(
        f"precision {_ratio(counts.precision)}  recall {_ratio(counts.recall)}  "
        f"(TP {counts.tp}, FP {counts.fp}, FN {counts.fn}, TN {counts.tn})"
    )


def _enforce(
    counts: scoring.Counts, *, min_precision: float | None, min_recall: float | None
) -> None:
    below = []
    if min_precision is not None and (counts.precision or 0.0) < min_precision:
        below.append(f"precision {_ratio(counts.precision)} < {min_precision:g}")
    if min_recall is not None and (counts.recall or 0.0) < min_recall:
        below.append(f"recall {_ratio(counts.recall)} < {min_recall:g}")
    if below:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[red]below the bar:[/] {', '.join(below)}"
        )
        raise typer.Exit(EXIT_BELOW)


# --------------------------------------------------------------------------- record


def record(
    config: Path = typer.Option(
        ..., "--config", "-c", help="rollsafe.yaml (promql, log and log platform probes)"
    ),
    *,
    start: str | None = typer.Option(
        None, "--start", help="Range start: ISO 8601 (UTC unless a zone is given) or Unix seconds"
    ),
    end: str | None = typer.Option(None, "--end", help="Range end (default: now)"),
    since: str | None = typer.Option(
        None, "--since", help="Range start as a duration before --end, e.g. 7d"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout"),
    probe: list[str] | None = typer.Option(
        None, "--probe", help="Only these probes (repeatable; default: every recordable probe)"
    ),
    target: list[str] | None = typer.Option(
        None, "--target", help="Only these targets (repeatable)"
    ),
    log: list[str] | None = typer.Option(
        None,
        "--log",
        help="PROBE:TARGET=FILE: read FILE for that log probe and target instead of its path "
        "(repeatable, e.g. for rotated files)",
    ),
    all_log_lines: bool = typer.Option(
        False, "--all-log-lines", help="Keep every log line, not only those the probe matches"
    ),
    log_timezone: str = typer.Option(
        "UTC", "--log-timezone", help="Zone of log timestamps without one, e.g. Europe/Berlin"
    ),
    upgrade: list[str] | None = typer.Option(
        None, "--upgrade", help="TARGET@TIME: an upgrade finished then (repeatable)"
    ),
    fault: list[str] | None = typer.Option(
        None,
        "--fault",
        help="TARGET@TIME: label the target faulty from then, for scoring (repeatable)",
    ),
    labelled: bool = typer.Option(
        False, "--labelled", help="Write labels even without --fault: every target healthy"
    ),
    name: str | None = typer.Option(None, "--name", help="Name of the recording"),
    description: str = typer.Option("", "--description", help="What happened in this range"),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds per Prometheus request"),
) -> None:
    """Build a recording from Prometheus, log files and log platforms (their probes)."""
    loaded = config_commands.load_or_exit(config)
    finish = _when(end, "--end") if end is not None else float(math.floor(time.time()))
    if (start is None) == (since is None):
        context.fail("give exactly one of --start and --since")
    if start is not None:
        begin = _when(start, "--start")
    else:
        try:
            begin = finish - durations.parse_duration(since)
        except ValueError as exc:
            context.fail(f"--since: {exc}")
    try:
        zone: dt.tzinfo = dt.UTC if log_timezone == "UTC" else zoneinfo.ZoneInfo(log_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        context.fail(f"--log-timezone: unknown zone {log_timezone!r} (expected e.g. Europe/Berlin)")
    marks = [
        observations.Mark(time=t, target=ids.TargetId(who), name="upgrade")
        for who, t in (_at(item, "--upgrade") for item in upgrade or [])
    ]
    faults = [
        recordings.Fault(target=ids.TargetId(who), start=t, kind="")
        for who, t in (_at(item, "--fault") for item in fault or [])
    ]
    log_files = [_log_file(item) for item in log or []]
    try:
        gathered = capturing.record(
            loaded.config,
            start=begin,
            end=finish,
            probes=probe or None,
            targets=target or None,
            log_files=log_files,
            all_log_lines=all_log_lines,
            zone=zone,
            timeout=timeout,
        )
    except capturing.RecordError as exc:
        context.fail(str(exc))
    meta: dict[str, Any] = {
        "recorded_by": "rollsafe record",
        "recorded_at": _iso(time.time()),
        "config": str(loaded.path),
    }
    arguments: dict[str, Any] = {
        "name": name,
        "description": description,
        "marks": marks,
        "faults": faults if (faults or labelled) else None,
        "meta": meta,
    }
    if output is None:
        written = capturing.write(gathered, sys.stdout, **arguments)
    else:
        with output.open("w", encoding="utf-8") as stream:
            written = capturing.write(gathered, stream, **arguments)
    errors_seen = sum(1 for o in gathered.observations if o.error is not None)
    report = Console(stderr=True, highlight=False, soft_wrap=True)
    for note in gathered.notes:
        report.print(f"note: {markup.escape(note)}")
    report.print(
        f"recorded {len(gathered.observations)} observations ({errors_seen} without data) "
        f"from {_plural(gathered.queries, 'Prometheus query')}"
        + (
            f" and {_plural(gathered.platform_steps, 'log platform step')}"
            if gathered.platform_steps
            else ""
        )
        + (
            f" and {_plural(gathered.monitor_steps, 'cloud monitor step')}"
            if gathered.monitor_steps
            else ""
        )
        + ", "
        f"{_plural(len(gathered.log_lines), 'log line')} "
        f"from {_plural(len(gathered.followed_logs), 'log')}, {_plural(len(marks), 'mark')}: "
        f"{written} records "
        f"from {_iso(begin)} to {_iso(finish)}"
        + ("" if output is None else f" in {markup.escape(str(output))}")
    )


# --------------------------------------------------------------------------- helpers


def _when(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        context.fail(f"{option}: {text!r} is not a time (expected ISO 8601 or Unix seconds)")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _at(text: str, option: str) -> tuple[str, float]:
    who, sep, when = text.partition("@")
    if not sep or not who or not when:
        context.fail(f"{option}: {text!r} (expected TARGET@TIME, e.g. web-1@2024-05-01T10:00Z)")
    return who, _when(when, option)


def _log_file(text: str) -> capturing.LogFile:
    left, sep, path = text.partition("=")
    probe, colon, who = left.partition(":")
    if not sep or not colon or not probe or not who or not path:
        context.fail(f"--log: {text!r} (expected PROBE:TARGET=FILE)")
    return capturing.LogFile(probe=probe, target=who, path=Path(path))


def _print_problems(problems: list[str]) -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for problem in problems:
        console.print(problem, markup=False)
    count = len(problems)
    console.print(f"[bold red]{count} problem{'s' if count != 1 else ''}[/] in the recording")


def _note_unconfigured(targets: tuple[str, ...], where: str = "") -> None:
    if targets:
        prefix = f"{where}: " if where else ""
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"note: {markup.escape(prefix)}targets not in the configuration, judged without "
            f"labels: {markup.escape(', '.join(targets))}"
        )


def _real_times(recorded: recordings.Recording) -> bool:
    return (recorded.start or 0.0) > _REAL_TIMES


def _span(recorded: recordings.Recording) -> str:
    start, end = recorded.start, recorded.end
    if start is None or end is None:
        return "empty"
    length = _duration(end - start)
    if _real_times(recorded):
        return f"{length} from {_iso(start)} to {_iso(end)}"
    return f"{length} of recording"


def _iso(timestamp: float) -> str:
    stamp = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _offset(seconds: float) -> str:
    """``+1:02:03`` (``+2d03:04:05`` past a day): where in the recording."""
    sign = "-" if seconds < 0 else "+"
    whole = round(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}" if days else f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{days}d{clock}" if days else f"{sign}{clock}"


def _duration(seconds: float) -> str:
    return durations.format_duration(seconds) if seconds >= 0 else "-" + _duration(-seconds)


def _maybe_duration(seconds: float | None) -> str:
    return "n/a" if seconds is None else _duration(seconds)


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
