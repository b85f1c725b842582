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
- before the command runs (its forked child waits for the word), ``<prefix>.proc`` is
  written atomically:
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
import sys
import time
from pathlib import Path
from typing import Any

EX_USAGE = 64
EX_ABANDONED = 127  # the child's exit when it never became the command


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
        pid = spawn(argv, record=prefix.with_name(prefix.name + ".proc"))
    except OSError as exc:
        write_atomic(result, {"spawn_error": {"errno": exc.errno, "strerror": exc.strerror}})
        return
    _, status = os.waitpid(pid, 0)
    returncode = os.waitstatus_to_exitcode(status)
    write_atomic(result, {"returncode": returncode, "finished_at": time.time()})


def spawn(argv: list[str], *, record: Path) -> int:
    """Fork the command into its own process group, join that group, record, then exec it.

    The child waits for a byte on a pipe before it execs: the record naming its group is on
    disk before the command can do anything, and if this process dies first the pipe closes
    and the child exits without running the command.
    """
    go_read, go_write = os.pipe()
    err_read, err_write = os.pipe()  # close-on-exec: EOF means the exec succeeded
    pid = os.fork()
    if pid == 0:  # the child: becomes the command
        try:
            os.close(go_write)
            os.close(err_read)
            os.setpgid(0, 0)
            if os.read(go_read, 1) != b"x":
                os._exit(EX_ABANDONED)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.execvp(argv[0], argv)  # noqa: S606 - no shell by design: argv as configured
        except OSError as exc:
            os.write(err_write, str(exc.errno or 0).encode())
        finally:
            os._exit(EX_ABANDONED)
    os.close(go_read)
    os.close(err_write)
    with contextlib.suppress(OSError):  # both sides set the group: no race on who runs first
        os.setpgid(pid, pid)
    # Join the command's group: whoever kills the group kills its supervisor with it.
    os.setpgid(0, pid)
    me = os.getpid()
    write_atomic(
        record,
        {
            "pid": me,
            "start_ticks": start_ticks(me),
            "pgid": pid,
            "pgid_start_ticks": start_ticks(pid),
            "started_at": time.time(),
        },
    )
    os.write(go_write, b"x")
    os.close(go_write)
    failure = os.read(err_read, 64)
    os.close(err_read)
    if failure:
        os.waitpid(pid, 0)
        code = int(failure)
        raise OSError(code, os.strerror(code))
    return pid


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
