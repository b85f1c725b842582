"""A reboot the host logged as asked for waits; a crash never does (``policy.planned_reboots``).

Recordings built here replay through the backtest's own path (``backtest.replaying``: the
log lines go through the log probe's event counter in 15 s buckets, the checks every 10 s)
with the shipped ``web-service`` preset. The shutdown lines are real ones, quoted from the
public reports cited in ``tests/unit/detect/test_detect_log_events.py`` (an Ubuntu/Qubes
``journalctl -b -1`` of a reboot, systemd-shutdown and the kernel's restart from LKML), the
crash lines those of ``corpus/quoted.py`` (cited there). The upgrade is marked only at the
end of the run, 10 minutes after the reboot: the case where marks cannot hold it.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import judge_helpers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollsafe.backtest import recordings, replaying
from rollsafe.config import loading, models
from rollsafe.domain import errors, ids, observations, verdicts
from rollsafe.judge import engine, reboots
from support import corpus_modules

START = 1_700_000_000.0
END = START + 7200.0
REBOOT = 3000.0  # offsets from START
UPGRADE_MARK = 3600.0
CRITICAL = verdicts.Severity.CRITICAL

# Qubes dom0's reboot (https://github.com/QubesOS/qubes-issues/issues/1581) and the end of
# one from LKML (https://lore.kernel.org/all/ZGeHMjlnob2GFyHF@francesco-nb.int.toradex.com/),
# host names as quoted; stamped here at the reboot's time.
SHUTDOWN = [
    "Sep 02 19:55:29 dom0 systemd-logind[1869]: System is rebooting.",
    "Sep 02 19:55:29 dom0 systemd[1]: Stopping Accounts Service...",
    "Sep 02 19:55:29 dom0 systemd[1]: Stopped target Graphical Interface.",
    "Sep 02 19:55:29 dom0 systemd[1]: Stopped target Multi-User System.",
    "[   80.162682] systemd-shutdown[1]: Syncing filesystems and block devices.",
    "[   80.169602] systemd-shutdown[1]: Rebooting.",
    "[   80.213016] reboot: Restarting system",
]
# PID 1 once the boot is done (https://github.com/systemd/systemd/pull/7738).
BOOTED = [
    "Dec 25 09:55:12 systemd[1]: Startup finished in 878ms (kernel) + 890ms (initrd) + "
    "5.827s (userspace) = 19.264s.",
]

# dpkg.log while a new kernel is configured (https://github.com/zulip/zulip/issues/15743;
# the format is dpkg(1)'s, --log): the package run announces the reboot a minute before it.
KERNEL_INSTALLED = [
    "2020-07-10 03:50:18 status half-configured linux-image-4.15.0-109-generic:amd64 "
    "4.15.0-109.110",
    "2020-07-10 03:50:20 status installed linux-image-4.15.0-109-generic:amd64 4.15.0-109.110",
    "2020-07-10 03:50:21 status installed linux-headers-generic:amd64 4.15.0.109.97",
]
# A run that installs no kernel: dpkg upgrading a library (same report), no reboot to wait for.
NO_KERNEL = [
    "2020-07-10 03:50:21 status installed linux-headers-generic:amd64 4.15.0.109.97",
    "2020-07-10 03:50:21 status installed linux-modules-extra-4.15.0-109-generic:amd64 "
    "4.15.0-109.110",
]


QUOTED = corpus_modules.quoted()
PANIC = list(QUOTED.EVENTS["panic-fatal-interrupt"].lines)
# Every quoted failure the corpus knows (OOM kills, panics, oopses, stalls, hung tasks,
# segfaults, unit failures), each as one event's lines.
CRASHES = [tuple(e.lines) for e in QUOTED.EVENTS.values() if e.family != "benign"]


def _load(data: dict[str, Any]) -> models.RollsafeConfig:
    """``data`` as a user's file (JSON is YAML), loaded as ``rollsafe`` loads one."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rollsafe.yaml"
        path.write_text(json.dumps(data), encoding="utf-8")
        return loading.load(path).config


@functools.cache
def _config(
    *, planned: bool = True, boots: bool = True, expected: bool = False, shutdowns: bool = True
) -> models.RollsafeConfig:
    syslog = {"kind": "log", "path": "/var/log/syslog", "interval": "15s"}
    kern = {"kind": "log", "path": "/var/log/kern.log", "interval": "15s"}
    data: dict[str, Any] = {
        "targets": [{"id": "web-1"}],
        "probes": [
            {"kind": "http", "name": "health", "url": "http://web-1/health", "interval": "10s"},
            {**syslog, "name": "syslog", "presets": ["systemd_failure"]},
            {**syslog, "name": "reboots", "presets": ["shutdown"]},
            {**syslog, "name": "boots", "presets": ["boot"]},
            {**kern, "name": "kernel-log", "presets": ["oom"]},
            {**kern, "name": "kernel-panic", "presets": ["kernel_panic"]},
            {**kern, "name": "kernel-lockups", "presets": ["lockup"]},
            {**kern, "name": "segfaults", "presets": ["segfault"]},
            {
                "kind": "log",
                "name": "packages",
                "path": "/var/log/dpkg.log",
                "interval": "15s",
                "presets": ["reboot_expected"],
            },
            {
                "kind": "promql",
                "name": "node-up",
                "url": "http://prometheus:9090",
                "query": 'up{instance="$address:9100"}',
                "interval": "15s",
            },
        ],
        "presets": [
            {
                "preset": "web-service",
                "signals": {
                    "health": "health",
                    "oom": "kernel-log",
                    "panic": "kernel-panic",
                    "lockups": "kernel-lockups",
                    "segfaults": "segfaults",
                    "unit_failures": "syslog",
                },
            }
        ],
    }
    if planned:
        policy: dict[str, Any] = {"shutdowns": "reboots"} if shutdowns else {}
        if boots:
            policy["boots"] = "boots"
        if expected:
            policy["expected"] = "packages"
            policy["host"] = "node-up"
        data["policy"] = {"planned_reboots": policy}
    return _load(data)


def _recording(
    *,
    down: list[tuple[float, float]],
    syslog: list[tuple[float, str]] = (),  # type: ignore[assignment]
    kernel: list[tuple[float, str]] = (),  # type: ignore[assignment]
    packages: list[tuple[float, str]] = (),  # type: ignore[assignment]
    gone: list[tuple[float, float]] = (),  # type: ignore[assignment]
    mark: float | None = UPGRADE_MARK,
    length: float = END - START,
) -> recordings.Recording:
    """web-1: a health check every 10 s (offset 3 s), failing inside ``down`` (offsets),
    its node exporter's ``up`` every 15 s (offset 7 s), 0 inside ``gone``; syslog, kernel and
    dpkg.log lines at their offsets, one ``upgrade`` mark at ``mark``."""
    items: list[dict[str, Any]] = [
        {
            "type": "header",
            "format": "rollsafe-recording",
            "version": 1,
            "start": START,
            "end": START + length,
            "name": "planned-reboot-test",
            "labels": {"faults": []},
            "logs": [
                {"target": "web-1", "source": "syslog"},
                {"target": "web-1", "source": "kernel-log"},
                {"target": "web-1", "source": "packages"},
            ],
        }
    ]
    for step in range(int(length // 10)):
        t = 3.0 + 10 * step
        failing = any(a <= t <= b for a, b in down)
        items.append({"t": t, "target": "web-1", "source": "health", "value": 0 if failing else 1})
    for step in range(int(length // 15)):
        t = 7.0 + 15 * step
        away = any(a <= t <= b for a, b in gone)
        items.append({"t": t, "target": "web-1", "source": "node-up", "value": 0 if away else 1})
    for t, line in syslog:
        items.append({"type": "log", "t": t, "target": "web-1", "source": "syslog", "line": line})
    for t, line in kernel:
        items.append(
            {"type": "log", "t": t, "target": "web-1", "source": "kernel-log", "line": line}
        )
    for t, line in packages:
        items.append({"type": "log", "t": t, "target": "web-1", "source": "packages", "line": line})
    if mark is not None:
        items.append({"type": "mark", "t": mark, "target": "web-1", "name": "upgrade"})
    return recordings.parse([json.dumps(item) for item in items])


def _lines(at: float, lines: list[str]) -> list[tuple[float, str]]:
    return [(at + 0.1 * i, line) for i, line in enumerate(lines)]


def _criticals(cfg: models.RollsafeConfig, rec: recordings.Recording) -> list[tuple[str, float]]:
    return [
        (d.rule, round(d.time - START, 3))
        for d in replaying.replay(cfg, rec).decisions
        if d.severity is CRITICAL
    ]


def test_an_orderly_reboot_before_the_upgrade_mark_is_not_an_outage() -> None:
    # Down 95 s through the reboot; "Startup finished" at +85 s; the service answers at +103.
    rec = _recording(
        down=[(REBOOT + 2, REBOOT + 95)],
        syslog=_lines(REBOOT, SHUTDOWN) + _lines(REBOOT + 85, BOOTED),
    )
    assert _criticals(_config(planned=False), rec) == [("web-service.down", REBOOT + 33)]
    assert _criticals(_config(), rec) == []
    assert _criticals(_config(boots=False), rec) == []  # held to the grace instead


def test_a_reboot_that_never_comes_back_is_rolled_back_after_the_grace() -> None:
    rec = _recording(down=[(REBOOT + 2, 7200.0)], syslog=_lines(REBOOT, SHUTDOWN))
    rule, at = _criticals(_config(), rec)[0]
    assert rule == "web-service.down"
    # The hold ends 600 s after the shutdown's log observation (at most 15 s after its
    # lines); three failing checks spanning 30 s after that roll back. (The `upgrade` mark
    # at +600 s restarts the count as it always does: the run judged from the mark.)
    assert REBOOT + 600 + 30 <= at <= REBOOT + 15 + 600 + 30 + 10


def test_a_host_back_whose_service_stays_down_is_rolled_back_from_the_boot() -> None:
    # The boot finished at +85 s but the service never answers again: judged from the boot.
    rec = _recording(
        down=[(REBOOT + 2, 7200.0)],
        syslog=_lines(REBOOT, SHUTDOWN) + _lines(REBOOT + 85, BOOTED),
    )
    rule, at = _criticals(_config(), rec)[0]
    assert rule == "web-service.down"
    assert REBOOT + 85 + 30 <= at <= REBOOT + 90 + 30 + 10
    # 90 s later than without the policy: the time the host took to boot.
    assert _criticals(_config(planned=False), rec)[0] == ("web-service.down", REBOOT + 33)


def test_a_host_back_that_fails_later_is_judged_as_usual() -> None:
    outage = (REBOOT + 300, 7200.0)  # back at +103, down again from +300
    rec = _recording(
        down=[(REBOOT + 2, REBOOT + 95), outage],
        syslog=_lines(REBOOT, SHUTDOWN) + _lines(REBOOT + 85, BOOTED),
    )
    unplanned = _recording(down=[outage])
    assert _criticals(_config(), rec) == _criticals(_config(), unplanned)
    assert _criticals(_config(), rec)[0] == ("web-service.down", REBOOT + 333)


def test_a_panic_is_never_held_even_in_a_reboot() -> None:
    # A kernel panic, no shutdown lines: the host is down, both rules roll back as before.
    crash = _recording(down=[(REBOOT + 2, 7200.0)], kernel=_lines(REBOOT, PANIC))
    assert _criticals(_config(), crash) == _criticals(_config(planned=False), crash)
    assert ("web-service.kernel-panic", REBOOT + 15) in _criticals(_config(), crash)
    # A panic while shutting down for a reboot still rolls back at once.
    both = _recording(
        down=[(REBOOT + 2, 7200.0)],
        syslog=_lines(REBOOT, SHUTDOWN),
        kernel=_lines(REBOOT + 1, PANIC),
    )
    assert ("web-service.kernel-panic", REBOOT + 15) in _criticals(_config(), both)


# ---------------------------------------------- a reboot the package run announced (expected)
# The reboot logs no shutdown a probe saw (the log read over ssh missed its last seconds, or
# the host logged none): the package manager's lines, a minute before, announce it, and the
# host's own probe (its node exporter's `up`) says when the whole host was gone.
REBOOTING = (REBOOT + 1, REBOOT + 80)  # the host gone: from the reboot to sshd and exporters


def test_a_reboot_the_package_run_announced_waits_without_a_shutdown_logged() -> None:
    rec = _recording(
        down=[(REBOOT + 2, REBOOT + 95)],
        gone=[REBOOTING],
        packages=_lines(REBOOT - 60, KERNEL_INSTALLED),
        syslog=_lines(REBOOT + 85, BOOTED),
    )
    announced = _config(expected=True, shutdowns=False)
    assert _criticals(_config(planned=False), rec) == [("web-service.down", REBOOT + 33)]
    assert _criticals(_config(), rec) == [("web-service.down", REBOOT + 33)]  # no shutdown
    assert _criticals(announced, rec) == []
    assert _criticals(_config(expected=True), rec) == []  # both witnesses configured
    # Without the boot probe the host answering again ends the hold just as well.
    assert _criticals(_config(expected=True, boots=False), rec) == []


def test_a_service_down_on_a_host_that_answers_is_never_held() -> None:
    # The same run installed a kernel, but what goes down is the service (its own upgrade
    # broke it): the host answers throughout, so nothing is a reboot.
    rec = _recording(
        down=[(REBOOT + 2, 7200.0)],
        packages=_lines(REBOOT - 60, KERNEL_INSTALLED),
    )
    assert _criticals(_config(expected=True), rec)[0] == ("web-service.down", REBOOT + 33)
    # ... and one that comes back within the grace is rolled back all the same.
    short = _recording(
        down=[(REBOOT + 2, REBOOT + 200)],
        packages=_lines(REBOOT - 60, KERNEL_INSTALLED),
    )
    assert _criticals(_config(expected=True), short) == [("web-service.down", REBOOT + 33)]


def test_an_outage_after_a_run_that_installed_no_kernel_is_not_held() -> None:
    rec = _recording(
        down=[(REBOOT + 2, REBOOT + 95)],
        gone=[REBOOTING],
        packages=_lines(REBOOT - 60, NO_KERNEL),
        syslog=_lines(REBOOT + 85, BOOTED),
    )
    assert _criticals(_config(expected=True), rec) == [("web-service.down", REBOOT + 33)]


def test_an_announced_reboot_that_never_comes_back_is_rolled_back_after_the_grace() -> None:
    rec = _recording(
        down=[(REBOOT + 2, 7200.0)],
        gone=[(REBOOT + 1, 7200.0)],
        packages=_lines(REBOOT - 60, KERNEL_INSTALLED),
    )
    rule, at = _criticals(_config(expected=True), rec)[0]
    assert rule == "web-service.down"
    # The hold ends 600 s after the observation that counted the kernel install (at most
    # 15 s after its lines): then three failing checks spanning 30 s roll back.
    assert REBOOT - 60 + 600 + 30 <= at <= REBOOT - 60 + 15 + 600 + 30 + 10


def test_a_boot_loop_after_an_announced_reboot_is_rolled_back_from_the_first_return() -> None:
    # Back at +80 s, then the new kernel falls again at +300 s for good (a boot loop: the host
    # gone again, boots logged at +85 and +385): only the announced reboot is held.
    loop = [(REBOOT + 300 * k + 85, line) for k in range(2) for line in BOOTED]
    outage = (REBOOT + 300, 7200.0)
    rec = _recording(
        down=[(REBOOT + 2, REBOOT + 95), outage],
        gone=[REBOOTING, outage],
        packages=_lines(REBOOT - 60, KERNEL_INSTALLED),
        syslog=loop,
    )
    unannounced = _recording(down=[outage], gone=[outage], syslog=loop)
    for boots in (True, False):
        cfg = _config(expected=True, boots=boots)
        assert _criticals(cfg, rec) == _criticals(_config(), unannounced)
        assert _criticals(cfg, rec)[0] == ("web-service.down", REBOOT + 333)


def test_a_panic_in_an_announced_reboot_rolls_back_at_once() -> None:
    rec = _recording(
        down=[(REBOOT + 2, 7200.0)],
        gone=[(REBOOT + 1, 7200.0)],
        packages=_lines(REBOOT - 60, KERNEL_INSTALLED),
        kernel=_lines(REBOOT, PANIC),
    )
    assert ("web-service.kernel-panic", REBOOT + 15) in _criticals(_config(expected=True), rec)


def test_a_host_gone_with_no_package_run_before_it_holds_nothing() -> None:
    # A crash that takes the host down and reboots it (a watchdog reset, a power cut): gone,
    # then a boot logged, nothing announced: judged exactly as without the policy.
    rec = _recording(
        down=[(REBOOT + 2, REBOOT + 95)], gone=[REBOOTING], syslog=_lines(REBOOT + 85, BOOTED)
    )
    assert _criticals(_config(expected=True), rec) == [("web-service.down", REBOOT + 33)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    outages=st.lists(st.tuples(st.integers(0, 170), st.integers(1, 60)), min_size=0, max_size=3),
    crashes=st.lists(st.tuples(st.integers(0, 1790), st.integers(0, len(CRASHES) - 1)), max_size=6),
    mark=st.one_of(st.none(), st.integers(0, 1790)),
)
def test_without_shutdown_lines_the_policy_changes_no_decision(
    outages: list[tuple[int, int]], crashes: list[tuple[int, int]], mark: int | None
) -> None:
    """The property the hold rests on: crashes, hangs and outages with no orderly shutdown
    logged are judged exactly as without ``planned_reboots``, decision for decision."""
    down = [(10.0 * start, 10.0 * (start + length)) for start, length in outages]
    kernel = [
        (float(at) + 0.1 * i, line)
        for at, which in crashes
        for i, line in enumerate(CRASHES[which])
    ]
    rec = _recording(
        down=down,
        gone=down[:1],  # the host gone too in the first outage: still nothing announced
        kernel=kernel,
        syslog=_lines(900.0, BOOTED),  # a boot alone opens nothing either
        mark=None if mark is None else float(mark),
        length=1800.0,
    )
    without = [
        (d.rule, d.time, d.severity)
        for d in replaying.replay(_config(planned=False), rec).decisions
    ]
    for cfg in (_config(), _config(expected=True)):
        assert [(d.rule, d.time, d.severity) for d in replaying.replay(cfg, rec).decisions] == (
            without
        )


# --------------------------------------------------------------------------- the parts


def _plan() -> reboots.Plan:
    return reboots.Plan(shutdowns="reboots", boots="boots", grace=600.0, lead=15.0)


def _seen(source: str, time: float, value: float = 1.0) -> observations.Observation:
    return observations.Observation(
        time=time, target=ids.TargetId("web-1"), source=source, value=value
    )


def test_holds_run_from_the_shutdown_to_the_next_boot_or_the_grace() -> None:
    seen = reboots.Seen()
    assert seen.fold(_plan(), _seen("reboots", 1000.0))
    assert seen.holds(_plan()) == [(985.0, 1600.0)]
    assert not seen.fold(_plan(), _seen("boots", 900.0))  # an earlier boot ends nothing
    assert seen.fold(_plan(), _seen("boots", 1090.0))
    assert seen.holds(_plan()) == [(985.0, 1090.0)]
    assert not seen.fold(_plan(), _seen("reboots", 2000.0, value=0.0))  # nothing counted
    assert not seen.fold(_plan(), _seen("cpu", 2000.0))


def test_an_announced_reboot_holds_the_first_time_the_host_is_gone() -> None:
    plan = reboots.Plan(
        boots="boots",
        grace=600.0,
        expected="packages",
        expected_lead=60.0,
        host="node",
        host_lead=15.0,
    )
    seen = reboots.Seen()
    assert not seen.fold(plan, _seen("packages", 1000.0))  # announced: nothing gone yet
    assert seen.holds(plan) == []
    assert not seen.fold(plan, _seen("node", 1030.0))  # answering
    assert seen.fold(plan, _seen("node", 1045.0, value=0.0))  # gone since the look before
    assert seen.holds(plan) == [(1030.0, 1600.0)]
    assert not seen.fold(plan, _seen("node", 1060.0, value=0.0))
    assert not seen.fold(plan, _seen("node", 1040.0, value=1.0))  # older than the newest
    assert seen.fold(plan, _seen("node", 1120.0))  # back
    assert seen.holds(plan) == [(1030.0, 1120.0)]
    assert not seen.fold(plan, _seen("node", 1300.0, value=0.0))  # gone again: not held
    assert seen.holds(plan) == [(1030.0, 1120.0)]
    assert seen.fold(plan, _seen("boots", 1100.0))  # a boot logged before it answered
    assert seen.holds(plan) == [(1030.0, 1100.0)]
    error = observations.Observation(
        time=1400.0, target=ids.TargetId("web-1"), source="node", error="timeout"
    )
    assert not seen.fold(plan, error)  # blind is not gone
    assert plan.sources == frozenset({"boots", "packages", "node"})


def test_an_announced_reboot_needs_the_host_probe() -> None:
    with pytest.raises(ValueError, match="expected needs `host`"):
        models.PlannedReboots(expected="packages", boots="boots")
    intervals = {"packages": 60.0, "node": 15.0}
    plan = reboots.Plan.of(models.PlannedReboots(expected="packages", host="node"), intervals)
    assert (plan.shutdowns, plan.expected, plan.expected_lead) == (None, "packages", 60.0)
    assert (plan.host, plan.host_lead, plan.boots) == ("node", 15.0, None)


def test_an_unknown_probe_is_refused() -> None:
    policy = models.PlannedReboots(shutdowns="nope")
    with pytest.raises(errors.ConfigError, match="unknown probe 'nope'"):
        reboots.Plan.of(policy, {"health": 10.0})
    assert reboots.Plan.of(models.PlannedReboots(), {}).sources == frozenset()


def test_config_check_names_a_wrong_probe() -> None:
    data = {
        "targets": [{"id": "web-1"}],
        "probes": [
            {
                "kind": "log",
                "name": "syslog",
                "path": "/var/log/syslog",
                "presets": ["systemd_failure", "shutdown"],
            },
        ],
        "policy": {"planned_reboots": {"shutdowns": "syslog", "boots": "boot"}},
    }
    with pytest.raises(errors.ConfigError) as caught:
        _load(data)
    said = "\n".join(caught.value.problems)
    assert "policy.planned_reboots.shutdowns" in said
    assert "must count only its preset" in said
    assert "unknown probe 'boot'" in said
    # The package log probe counts only its preset too (an app error would open a hold).
    data["probes"].append(
        {"kind": "log", "name": "dpkg", "path": "/var/log/dpkg.log", "presets": ["boot"]}
    )
    data["policy"] = {"planned_reboots": {"expected": "dpkg", "host": "dpkg", "boots": "up"}}
    with pytest.raises(errors.ConfigError) as caught:
        _load(data)
    said = "\n".join(caught.value.problems)
    assert "policy.planned_reboots.expected" in said
    assert "[reboot_expected]" in said
    assert "policy.planned_reboots.host" not in said  # any probe may say the host answers
    assert "unknown probe 'up'" in said


def test_the_engine_holds_only_lasting_rules() -> None:
    cfg = _config()
    judge = engine.Engine(cfg)
    target = ids.TargetId("web-1")
    judge.observe(_seen("reboots", START + 15))
    for t in range(20, 80, 10):
        judge.observe(_seen("health", START + t, value=0.0))
    downs = [d for d in judge.evaluate(target, now=START + 70) if d.rule == "web-service.down"]
    assert downs[0].severity is verdicts.Severity.OK
    assert "during the upgrade" in downs[0].summary or "being upgraded" in downs[0].summary


@pytest.mark.parametrize("outage", [None, (REBOOT + 300, REBOOT + 900)])
def test_replay_decides_what_judging_in_full_decides(outage: tuple[float, float] | None) -> None:
    # The severity-first replay re-decides every rule when a reboot's hold changes, as it
    # does at a mark: its decisions are those of ``evaluate`` after every instant.
    down = [(REBOOT + 2, REBOOT + 95)] + ([outage] if outage else [])
    rec = _recording(
        down=down,
        syslog=_lines(REBOOT, SHUTDOWN) + _lines(REBOOT + 85, BOOTED),
        length=4200.0,
    )
    cfg = _config()
    fed = replaying.observations_of(cfg, rec)
    fast = engine.replay(cfg, fed, rec.marks)
    full = judge_helpers.judged_in_full(cfg, fed, list(rec.marks))
    assert [(d.rule, d.time, d.severity) for d in fast] == [
        (d.rule, d.time, d.severity) for d in full
    ]


@pytest.mark.parametrize("outage", [None, (REBOOT + 300, REBOOT + 900)])
def test_replay_decides_announced_reboots_as_judging_in_full(
    outage: tuple[float, float] | None,
) -> None:
    # The host probe's changes move the holds while the host is gone and when it is back:
    # the severity-first replay decides them as ``evaluate`` after every instant does.
    down = [(REBOOT + 2, REBOOT + 95)] + ([outage] if outage else [])
    rec = _recording(
        down=down,
        gone=[REBOOTING] + ([outage] if outage else []),
        packages=_lines(REBOOT - 60, KERNEL_INSTALLED),
        syslog=_lines(REBOOT + 85, BOOTED),
        length=4200.0,
    )
    cfg = _config(expected=True, shutdowns=False)
    fed = replaying.observations_of(cfg, rec)
    fast = engine.replay(cfg, fed, rec.marks)
    full = judge_helpers.judged_in_full(cfg, fed, list(rec.marks))
    assert [(d.rule, d.time, d.severity) for d in fast] == [
        (d.rule, d.time, d.severity) for d in full
    ]
    downs = [d for d in fast if d.rule == "web-service.down" and d.severity is CRITICAL]
    # The reboot is held; the later outage is not (critical again after the `upgrade` mark,
    # as any outage older than the mark).
    assert [d.time - START for d in downs][:1] == ([] if outage is None else [REBOOT + 333])
