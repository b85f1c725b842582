"""The step journal: one worker per key, and a lease that outlives a cancelled step until its
in-flight SDK call returns; records refuse a key reused for another step."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading

import pytest

from rollsafe.domain import errors
from rollsafe.execute import journals


def locked(path) -> bool:
    """Whether another open file description would be refused the lock now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def test_a_second_lease_on_a_held_key_is_temporary(tmp_path):
    journal = journals.StepJournal(tmp_path)
    lease = journal.lease("run-1/0/apply-snapshot", retry_after=0.5)
    with pytest.raises(errors.DriverTemporaryError) as caught:
        journal.lease("run-1/0/apply-snapshot", retry_after=0.5)
    assert caught.value.retry_after == 0.5
    lease.release()
    journal.lease("run-1/0/apply-snapshot", retry_after=0.5).release()


async def test_cancelling_a_call_in_flight_keeps_the_lock_until_it_returns(tmp_path):
    journal = journals.StepJournal(tmp_path)
    key = "run-1/1/apply-snapshot"
    path = tmp_path / f"{journals.slug(key)}.lock"
    lease = journal.lease(key, retry_after=1)
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_call():
        started.set()
        release.wait(10)
        finished.set()
        return "answered"

    task = asyncio.create_task(lease.call(slow_call))
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lease.release()
    assert locked(path)  # the abandoned call is still in flight

    release.set()
    await asyncio.to_thread(finished.wait, 10)
    async with asyncio.timeout(10):
        while locked(path):
            await asyncio.sleep(0.01)


async def test_a_call_cancelled_before_it_started_never_runs(tmp_path):
    journal = journals.StepJournal(tmp_path)
    lease = journal.lease("k", retry_after=1)
    ran = []
    task = asyncio.create_task(lease.call(lambda: ran.append(1)))
    task.cancel()  # before the event loop ever hands it to a thread
    with pytest.raises(asyncio.CancelledError):
        await task
    lease.release()
    await asyncio.sleep(0.05)

    assert ran == []
    assert not locked(tmp_path / f"{journals.slug('k')}.lock")


def test_the_journal_refuses_a_key_reused_for_another_step(tmp_path):
    journal = journals.StepJournal(tmp_path)
    journal.write("k", {"step": "stop-instance", "phase": "done"})

    with pytest.raises(errors.DriverError, match="already used for step 'stop-instance'"):
        journal.read("k", step="apply-snapshot")
    assert journal.read("k", step="stop-instance") == {
        "step": "stop-instance",
        "phase": "done",
        "key": "k",
    }


def test_a_record_of_another_key_is_refused(tmp_path):
    journal = journals.StepJournal(tmp_path, suffix=".done")
    journal.write("k", {"step": "upgrade", "output": "ok"})
    journal.path("k").rename(journal.path("other"))

    with pytest.raises(errors.DriverError, match="does not belong to step key 'other'"):
        journal.read("other")


def test_the_lease_is_released_when_its_block_ends(tmp_path):
    journal = journals.StepJournal(tmp_path)
    with journal.lease("run-1/1/reset-system-disk"):
        with (
            pytest.raises(errors.DriverTemporaryError, match="being run right now"),
            journal.lease("run-1/1/reset-system-disk"),
        ):
            pass
        with journal.lease("run-2/1/reset-system-disk"):  # another key is free
            pass
    with journal.lease("run-1/1/reset-system-disk"):  # released with the first holder
        pass
