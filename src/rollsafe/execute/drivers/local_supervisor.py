"""The local driver's command supervisor: runs one operator command and records its exit code.

Role in the loop (execute): ``local`` launches every operator command (checkpoint, upgrade,
rollback, restart) through this tiny process, outside the controller's session, so that a
command's completion is recorded even when the controller that started it is SIGKILLed. A
resumed controller then finds the recorded result (and does not run the command again) or
finds this supervisor still alive and waits for it (and does not start a second copy).

Protocol, with ``<prefix>`` = ``<state_dir>/driver-journal/<step slug>``:

- the launcher holds ``flock(LOCK_EX)`` on ``<prefix>.run``, passes that descriptor as
  ``argv[1]`` and starts this script in a new session; the script forks once and the first
  process exits at once (the launcher reaps it), so the supervisor is not a session leader
  and can join the command's process group. It holds the lock as long as it lives, which is
  how a resumed controller knows "the supervisor is alive" without trusting a pid;
- the command leads its own process group, and the supervisor joins that group: killing the
  group (a timeout, a cancellation, an operator's ``kill -- -<pgid>``) kills both, and a
  command killed that way is never recorded as done;
- as soon as the command has started, ``<prefix>.proc`` is written atomically:
  ``{"pid", "start_ticks", "pgid", "pgid_start_ticks", "started_at"}`` (start times from
  ``/proc/<pid>/stat`` tell these processes from later ones that reused their pids);
- when the command ends, ``<prefix>.result`` is written atomically:
  ``{"returncode", "finished_at"}``, or ``{"spawn_error": {"errno", "strerror"}}`` when it
  could not start.

The command gets the inherited environment, stdin from /dev/null, and the inherited stdout and
stderr files. The standard library only, run by path with ``python -I``: it must start fast
and must not depend on the environment an operator passes to their command.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

EX_USAGE = 64


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    return int(fields[19])  # field 22, starttime


def write_atomic(path: Path, record: dict[str, Any]) -> None:
    """Readers see no file or the whole record, also after a power loss."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as f:
        f.write(json.dumps(record, sort_keys=True).encode())
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def supervise(lock_fd: int, prefix: Path, argv: list[str]) -> None:
    # The run lock stays with this process only: neither the command nor a daemon it leaves
    # behind may hold it, or "the supervisor is alive" would outlive the supervisor.
    os.set_inheritable(lock_fd, False)
    result = prefix.with_name(prefix.name + ".result")
    try:
        command = subprocess.Popen(argv, stdin=subprocess.DEVNULL, process_group=0)
    except OSError as exc:
        write_atomic(result, {"spawn_error": {"errno": exc.errno, "strerror": exc.strerror}})
        return
    # Join the command's group: whoever kills the group kills its supervisor with it.
    with contextlib.suppress(OSError):  # the command already ended: nothing left to join
        os.setpgid(0, command.pid)
    pid = os.getpid()
    write_atomic(
        prefix.with_name(prefix.name + ".proc"),
        {
            "pid": pid,
            "start_ticks": start_ticks(pid),
            "pgid": command.pid,
            "pgid_start_ticks": start_ticks(command.pid),
            "started_at": time.time(),
        },
    )
    returncode = command.wait()
    write_atomic(result, {"returncode": returncode, "finished_at": time.time()})


def main(args: list[str]) -> int:
    if len(args) < 3:
        sys.stderr.write("usage: local_supervisor.py LOCK_FD PREFIX COMMAND [ARG ...]\n")
        return EX_USAGE
    if os.fork() != 0:
        return 0  # the session leader ends here; its child supervises
    supervise(int(args[0]), Path(args[1]), args[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
