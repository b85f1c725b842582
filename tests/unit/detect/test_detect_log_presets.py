"""The log presets match what they promise and nothing in the free text around it."""

from __future__ import annotations

import typing

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import logs
from rollsafe.domain import errors


def _matches(preset: str, line: str) -> bool:
    return any(pattern.search(line) for pattern in logs.PRESETS[preset])


@pytest.mark.parametrize(
    "line",
    [
        "2015-10-18 18:04:11,034 ERROR [main] org.apache.Foo: boom",
        "2024-01-02 03:04:05 FATAL server stopped",
        "CRITICAL:root:disk full",
        "ERROR:app:cannot connect",
        "[2024-01-02T03:04:05Z ERROR myapp::db] pool exhausted",
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        "[Wed Oct 11 14:32:52.123 2023] [proxy:error] [pid 12] AH00940: failed",
        "2024/01/02 03:04:05 [crit] 123#0: *1 open() failed",
        "2024/01/02 03:04:05 [emerg] 1#1: bind() failed",
        'time=2024-01-02T03:04:05Z level=error msg="db down"',
        "ts=1 lvl=FATAL caller=main.go:12",
        '{"time": "2024-01-02", "level": "error", "msg": "db down"}',
        '{"severity":"CRITICAL","message":"x"}',
    ],
)
def test_app_error_matches_error_level_lines(line: str) -> None:
    assert _matches("app_error", line)


@pytest.mark.parametrize(
    "line",
    [
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
        "Jun 15 04:06:18 combo logrotate: ALERT exited abnormally with [1]",
        "2015-10-18 18:05:57,009 WARN [ResponseProcessor] DFSClient: ack: status: ERROR",
        "2024-01-02 INFO request done, ERROR count=0",
        "app: error state recovered after retry",
        "Traceback: ValueError: invalid literal",
        "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok",
        "2024-01-02 DEBUG errors=0 failures=0",
        'level=warn msg="errors are rising"',
        "TERRORS of the deep: a film review",
    ],
)
def test_app_error_ignores_errorish_words_in_other_lines(line: str) -> None:
    assert not _matches("app_error", line)


@pytest.mark.parametrize(
    ("preset", "line"),
    [
        ("oom", "kernel: Out of memory: Kill process 1234 (java) score 900"),
        ("oom", "kernel: Out of memory: Killed process 1234 (java)"),
        ("oom", "kernel: java invoked oom-killer: gfp_mask=0x201da, order=0"),
        (
            "oom",
            "systemd[1]: app.service: A process of this unit has been killed by the OOM killer."
            " oom-kill",
        ),
        ("kernel_panic", "kernel: Kernel panic - not syncing: VFS: Unable to mount root fs"),
        ("segfault", "kernel: python[999]: segfault at 0 ip 00007f error 4 in libc.so"),
        ("segfault", "kernel: traps: app[1] general protection fault ip:4005 sp:7ffd error:0"),
    ],
)
def test_kernel_presets_match_their_messages(preset: str, line: str) -> None:
    assert _matches(preset, line)


def test_kernel_presets_stay_quiet_on_ordinary_lines() -> None:
    line = "kernel: e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex"
    assert not any(_matches(preset, line) for preset in ("oom", "kernel_panic", "segfault"))


def test_every_configurable_preset_has_patterns() -> None:
    assert set(logs.PRESETS) == set(typing.get_args(models.LogPreset))


def test_invalid_pattern_is_a_config_error() -> None:
    config = models.LogProbe(kind="log", name="bad", path="/x", patterns=["(unclosed"])
    with pytest.raises(errors.ConfigError, match="not a valid regex"):
        logs.compile_patterns(config)
