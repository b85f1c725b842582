"""A remote log growing faster than a look may read says so, once, and when it has caught up.

The file is real and read by the real follower script through ``FakeTransport`` (which runs
it here with ``sh``): a look reads at most ``max_bytes``, the rest waits for the next look.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rollsafe.config import models
from rollsafe.detect.probes import remote
from rollsafe.testing import FakeClock, FakeTransport

TARGET = models.Target(id="web-1")


async def test_a_backlog_is_said_once_counted_over_looks_and_its_end_said_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"ERROR request {i:04d} failed\n" for i in range(40)))  # 1,040 bytes
    config = models.LogProbe(
        kind="log", name="app-errors", path=str(log), patterns=["ERROR"], from_start=True
    )
    probe = remote.RemoteLogProbe(config, FakeClock(start=0.0), FakeTransport(), max_bytes=300)
    caplog.set_level(logging.INFO, logger="rollsafe.detect.probes.remote")
    backlogs = []
    try:
        counts = []
        for _ in range(5):
            counts.append((await probe.observe(TARGET)).value)
            backlogs.append(probe.backlog())
    finally:
        await probe.close()
    # 300 bytes a look: the 40 lines (26 bytes each) are counted over four looks, none twice.
    assert sum(c or 0 for c in counts) == 40
    # What /metrics shows (rollsafe_log_backlog_bytes, rollsafe_log_files_behind): the bytes
    # left after each look, on one file, then nothing once caught up.
    assert backlogs == [(740, 1), (440, 1), (140, 1), (0, 0), (0, 0)]
    assert counts[-1] == 0
    said = [r for r in caplog.records if r.name == "rollsafe.detect.probes.remote"]
    assert [r.levelname for r in said] == ["WARNING", "INFO"]
    assert "740 bytes" in said[0].getMessage()
    assert "at most 300 per look" in said[0].getMessage()
    assert "caught up" in said[1].getMessage()
