"""The host probe reads this machine through psutil: percentages in range, rates after warm-up."""

from __future__ import annotations

import psutil
import pytest

from rollsafe.config import models
from rollsafe.detect.probes import host
from rollsafe.testing import FakeClock


def _probe(metric: str) -> host.HostProbe:
    config = models.HostProbe.model_validate({"kind": "host", "name": metric, "metric": metric})
    return host.HostProbe(config, FakeClock(start=7.0))


TARGET = models.Target(id="self")


@pytest.mark.parametrize("metric", ["cpu", "memory"])
async def test_percentages_are_within_0_and_100(metric: str) -> None:
    probe = _probe(metric)
    values = []
    for _ in range(5):
        # Burn a little CPU so the busy/total delta since the previous sample is not empty.
        sum(i * i for i in range(200_000))
        seen = await probe.observe(TARGET)
        if seen.error == "no CPU time elapsed since the previous sample":
            continue  # the kernel's CPU counters tick at 100 Hz; a fast loop can beat them
        assert seen.ok, seen.error
        assert (seen.time, seen.source, seen.target) == (7.0, metric, "self")
        values.append(seen.value)
    await probe.close()
    assert values
    assert all(v is not None and 0.0 <= v <= 100.0 for v in values), values


@pytest.mark.may_skip
async def test_disk_io_warms_up_then_reports_a_rate(tmp_path) -> None:
    if psutil.disk_io_counters() is None:
        pytest.skip("this machine exposes no disk I/O counters (container without /proc/diskstats)")
    probe = _probe("disk_io")
    first = await probe.observe(TARGET)
    assert first.error == "warming up: first sample"
    assert first.value is None
    (tmp_path / "blob").write_bytes(b"x" * 1024 * 1024)
    second = await probe.observe(TARGET)
    assert second.ok, second.error
    assert second.value is not None
    assert second.value >= 0.0
    # Each target keeps its own previous sample.
    other = await probe.observe(models.Target(id="other"))
    assert other.error == "warming up: first sample"
