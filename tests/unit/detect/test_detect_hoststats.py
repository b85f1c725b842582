"""The /proc arithmetic the local and remote host probes share, on the kernel's own text."""

from __future__ import annotations

import pytest

from rollsafe.detect.probes import host, hoststats

STAT_1 = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 100 0 50 800 50 0 0 0 0 0\n"
STAT_2 = "cpu  160 0 70 880 90 0 0 0 10 0\ncpu0 160 0 70 880 90 0 0 0 10 0\n"
MEMINFO = "MemTotal:        8000000 kB\nMemFree:   1000000 kB\nMemAvailable:    2000000 kB\n"
DISKSTATS = (
    "   8       0 sda 100 0 2000 0 50 0 1000 0 0 0 0\n"
    "   8       1 sda1 100 0 2000 0 50 0 1000 0 0 0 0\n"
    "   7       0 loop0 9 0 999 0 9 0 999 0 0 0 0\n"
)


def test_cpu_busy_share_leaves_out_idle_iowait_and_guest():
    before, after = hoststats.parse_cpu(STAT_1), hoststats.parse_cpu(STAT_2)
    # busy +80 (user 60, system 20), total +200 (idle 80, iowait 40); guest is inside user.
    assert hoststats.cpu_percent(before, after) == pytest.approx(40.0)
    with pytest.raises(hoststats.Unreadable, match="no CPU time elapsed"):
        hoststats.cpu_percent(after, after)


def test_memory_disks_and_load():
    assert hoststats.parse_memory_percent(MEMINFO) == pytest.approx(75.0)
    # Whole disks only (sda, not its partition sda1; never loop devices): 3000 sectors.
    assert hoststats.parse_disk_bytes(DISKSTATS, ["sda", "sda1"][:1]) == 3000 * 512
    assert hoststats.parse_load1("0.52 0.40 0.30 1/200 999\n") == 0.52
    with pytest.raises(hoststats.Unreadable):
        hoststats.parse_load1("")


def test_disk_rate_refuses_counters_that_went_backwards():
    a = hoststats.Sample(at=1.0, disk_bytes=1000)
    b = hoststats.Sample(at=3.0, disk_bytes=5000)
    assert hoststats.disk_rate(a, b) == 2000.0
    with pytest.raises(hoststats.Unreadable, match="went backwards"):
        hoststats.disk_rate(b, hoststats.Sample(at=4.0, disk_bytes=10))


def test_the_remote_script_output_splits_into_the_five_sections():
    m = hoststats.MARK
    out = f"{m}\n{STAT_1}{m}\n{MEMINFO}{m}\n{DISKSTATS}{m}\n0.1 0.1 0.1 1/1 1\n{m}\nsda\n"
    sample = hoststats.sample_from(hoststats.split_reading(out), at=5.0)
    assert sample.memory_percent == pytest.approx(75.0)
    assert sample.disk_bytes == 3000 * 512
    with pytest.raises(hoststats.Unreadable, match="sections"):
        hoststats.split_reading(f"{m}\n{STAT_1}")


def test_this_machine_reads_through_the_same_arithmetic():
    sample = host.local_sample()
    assert sample.cpu is not None
    assert sample.memory_percent is not None
    assert 0.0 < sample.memory_percent <= 100.0
