"""The "instance" of the cloud command stand-ins: a script run with ``sh -c`` on this machine.

The SSM, Cloud Assistant and TAT stand-ins hand the decoded script they were sent to a
``ShellRun``: it runs in its own temporary directory and process group, is polled by the
stand-in whenever its client asks for the invocation, and is killed (whole group) once it
outlives the timeout the API call gave, as the clouds' agents do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Finished:
    exit_code: int | None  # None when it was killed for its timeout
    stdout: str
    stderr: str
    timed_out: bool


class ShellRun:
    def __init__(self, script: str, *, timeout: float) -> None:
        self.script = script
        self._dir = Path(tempfile.mkdtemp(prefix="standin-instance-"))
        self._out = (self._dir / ".stdout").open("wb")
        self._err = (self._dir / ".stderr").open("wb")
        self._proc = subprocess.Popen(
            ["sh", "-c", script],
            cwd=self._dir,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,
        )
        self._deadline = time.monotonic() + timeout
        self.result: Finished | None = None

    def poll(self) -> Finished | None:
        """The outcome once the script ended (or was killed for its timeout); else None."""
        if self.result is not None:
            return self.result
        code = self._proc.poll()
        timed_out = False
        if code is None:
            if time.monotonic() < self._deadline:
                return None
            self.kill()
            timed_out = True
        self._out.close()
        self._err.close()
        stdout = (self._dir / ".stdout").read_text(errors="replace")
        stderr = (self._dir / ".stderr").read_text(errors="replace")
        shutil.rmtree(self._dir, ignore_errors=True)
        self.result = Finished(None if timed_out else code, stdout, stderr, timed_out)
        return self.result

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
