"""A network adapter hang with the service's check failing rolls back at once.

``nic-hang-took-service-down`` (web-service, database-host, batch-host): a hang of a network
adapter's transmit path (the ``nic_hang`` preset: the transmit watchdog, a driver's unit hang
report, the reset that follows) within ``nic_down_within`` (2 minutes) of the check failing
twice in a row after the upgrade. A hang alone warns (``nic-hang``); a second within 30
minutes rolls back (``nic-hangs``). A link going down and up is no hang; checks failing while
the host is being upgraded (its reboot, the adapter reset as it boots) do not corroborate.

Each case is a small recording replayed exactly as ``rollsafe backtest`` replays one: real
kernel lines (quoted verbatim from the public reports cited next to them) go through the log
probe's own ``nic_hang`` event counter, beside 10 s checks. The upgrade is at one hour.
"""

from __future__ import annotations

import json
from typing import Any

import replayed

from rollsafe.backtest import recordings
from rollsafe.config import models
from rollsafe.config import presets as preset_catalog

START = replayed.START
UPGRADE = 3600.0
END = 7200.0

# https://github.com/csrutil/OpenWrt-NIC-Drivers/issues/11 (an r8125 driver, 6.x wording)
WATCHDOG = (
    "r8125 0000:22:04.0 eth4: NETDEV WATCHDOG: CPU: 3: transmit queue 0 timed out 5010 ms",
    "r8125 0000:22:04.0 eth4: rtl_rxtx_empty_cond == 0 (loop: 42, delay: 100).",
)
# https://github.com/Ysurac/openmptcprouter/issues/286 (e1000e's report, its first lines)
UNIT_HANG = (
    "e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:",
    "  TDH                  <81>",
    "  TDT                  <e2>",
)
# https://lore.kernel.org/netdev/1623942.pXzBnfQ100@rocinante.m.i2n/ (the reset that follows)
RESET = ("e1000e 0000:00:19.0 eth0: Reset adapter unexpectedly",)
# https://github.com/appneta/tcpreplay/issues/183 (i40e: the link going down and up)
LINK_FLAP = (
    "i40e 0000:08:00.1: eth9: NIC Link is Down",
    "i40e 0000:08:00.1: eth9: NIC Link is Up 10 Gbps Full Duplex, Flow Control: None",
)


def _config(preset: str) -> models.RollsafeConfig:
    health: dict[str, Any] = (
        {"kind": "tcp", "name": "health", "host": "x", "port": 5432, "interval": "10s"}
        if preset == "database-host"
        else {"kind": "http", "name": "health", "url": "http://x/health", "interval": "10s"}
    )
    kernel = {"kind": "log", "name": "nic", "path": "/var/log/kern.log", "presets": ["nic_hang"]}
    return preset_catalog.apply(
        models.RollsafeConfig.model_validate(
            {
                "targets": [{"id": "t-1"}],
                "probes": [health, kernel],
                "presets": [
                    {"preset": preset, "signals": {"health": "health", "nic_hangs": "nic"}}
                ],
            }
        )
    )


def _recording(
    *,
    kernel: list[tuple[float, tuple[str, ...]]],
    refused: set[float] | None = None,
    started: float | None = None,
) -> recordings.Recording:
    """Two hours of ``t-1``: checks every 10 s from 3 s (``refused``: their times), the
    ``upgrade`` mark at one hour (``started``: an ``upgrade_started`` mark), and ``kernel``
    events: (time, lines), as syslog stamps them."""
    refused = refused or set()
    records: list[dict[str, Any]] = [
        {"t": 3.0 + 10 * k, "target": "t-1", "source": "health", "value": 0}
        if 3.0 + 10 * k in refused
        else {"t": 3.0 + 10 * k, "target": "t-1", "source": "health", "value": 1}
        for k in range(int(END // 10))
    ]
    records.append({"type": "mark", "t": UPGRADE, "target": "t-1", "name": "upgrade"})
    if started is not None:
        records.append({"type": "mark", "t": started, "target": "t-1", "name": "upgrade_started"})
    records += [
        {
            "type": "log",
            "t": at + 0.001 * n,
            "target": "t-1",
            "source": "nic",
            "line": f"Nov 14 23:{int(at // 60) % 60:02d}:{int(at % 60):02d} t-1 kernel: {line}",
        }
        for at, lines in kernel
        for n, line in enumerate(lines)
    ]
    records.sort(key=lambda r: r["t"])
    header = {
        "type": "header",
        "format": "rollsafe-recording",
        "version": 1,
        "start": START,
        "end": START + END,
        "name": "nic-hang",
        "logs": [{"target": "t-1", "source": "nic"}],
    }
    return recordings.parse(json.dumps(r) for r in [header, *records])


def _decided(preset: str, recording: recordings.Recording) -> list[tuple[float, str, str]]:
    return replayed.decided(_config(preset), preset, recording)


def _outage(at: float, seconds: float) -> set[float]:
    """The checks refused from ``at`` for ``seconds``."""
    return {3.0 + 10 * k for k in range(int(END // 10)) if at <= 3.0 + 10 * k < at + seconds}


def test_a_transmit_timeout_while_the_checks_fail_rolls_back_at_once() -> None:
    # The r8125 hang of held-out-10: checks refused from 5 s before the watchdog's line for
    # 25 s (two or three checks: never `down`, which needs 30 s).
    at = UPGRADE + 600
    decided = _decided(
        "web-service", _recording(kernel=[(at, WATCHDOG)], refused=_outage(at - 5, 25))
    )
    criticals = replayed.criticals(decided)
    assert [rule for _, rule in criticals] == ["nic-hang-took-service-down"]
    assert at < criticals[0][0] <= at + 30


def test_an_e1000e_unit_hang_while_the_database_port_refuses_rolls_back() -> None:
    # e1000e reports the hang every 2 s while it lasts, then resets the adapter: one hang.
    at = UPGRADE + 700
    kernel = [(at + 2.0 * k, UNIT_HANG) for k in range(15)] + [(at + 31, RESET)]
    decided = _decided("database-host", _recording(kernel=kernel, refused=_outage(at, 30)))
    criticals = replayed.criticals(decided)
    assert [rule for _, rule in criticals] == ["nic-hang-took-service-down"]
    assert at < criticals[0][0] <= at + 30


def test_a_lone_hang_warns_and_a_second_within_half_an_hour_rolls_back() -> None:
    at = UPGRADE + 600
    once = _decided("web-service", _recording(kernel=[(at, WATCHDOG)]))
    assert replayed.criticals(once) == []
    assert any(rule == "nic-hang" and severity == "warning" for _, rule, severity in once)
    twice = _decided("web-service", _recording(kernel=[(at, WATCHDOG), (at + 1200, WATCHDOG)]))
    assert [rule for _, rule in replayed.criticals(twice)] == ["nic-hangs"]
    assert at + 1200 <= replayed.criticals(twice)[0][0] <= at + 1200 + 15
    # 35 minutes apart: two hangs, each alone in its half hour.
    apart = _decided("web-service", _recording(kernel=[(at, WATCHDOG), (at + 2100, WATCHDOG)]))
    assert replayed.criticals(apart) == []


def test_checks_failing_minutes_from_the_hang_do_not_corroborate_it() -> None:
    at = UPGRADE + 1200
    for outage in (_outage(at - 300, 20), _outage(at + 240, 20)):
        decided = _decided("web-service", _recording(kernel=[(at, WATCHDOG)], refused=outage))
        assert replayed.criticals(decided) == []


def test_a_link_flap_with_checks_failing_is_no_hang() -> None:
    # A switch port or a cable: the link goes down and up, two checks fail. No hang is
    # counted, so nothing warns of one and nothing rolls back.
    at = UPGRADE + 900
    decided = _decided("web-service", _recording(kernel=[(at, LINK_FLAP)], refused=_outage(at, 20)))
    assert replayed.criticals(decided) == []
    assert not any(rule.startswith("nic-") for _, rule, _ in decided)


def test_an_adapter_reset_as_the_upgraded_host_boots_is_no_rollback() -> None:
    # The upgrade reboots the host (marked from its start): checks refused for 110 s and the
    # adapter reset once as it comes up. The checks failed while it was being upgraded.
    boot = UPGRADE - 20
    decided = _decided(
        "web-service",
        _recording(
            kernel=[(boot, RESET)], refused=_outage(UPGRADE - 130, 120), started=UPGRADE - 180
        ),
    )
    assert replayed.criticals(decided) == []
    assert any(rule == "nic-hang" for _, rule, _ in decided)


def test_the_nic_rules_are_left_out_without_a_nic_hang_signal() -> None:
    for preset in ("web-service", "database-host", "batch-host"):
        config = preset_catalog.apply(
            models.RollsafeConfig.model_validate(
                {
                    "targets": [{"id": "t-1"}],
                    "probes": [{"kind": "http", "name": "health", "url": "http://x/health"}],
                    "presets": [{"preset": preset, "signals": {"health": "health"}}],
                }
            )
        )
        ids = {rule.id.removeprefix(f"{preset}.") for rule in config.rules}
        assert not ids & {
            "nic-hang",
            "nic-hangs",
            "nic-hang-now",
            "failing-at-nic-hang",
            "nic-hang-took-service-down",
        }
        assert ids  # the preset's other rules are there
