"""Start, stop, restart and upgrade one demo host's service: the commands the driver runs.

``python -m rollsafe.demo.servicectl {start|stop|restart|upgrade|status} DIR [RELEASE]``

The generated demo config uses these as the local driver's ``upgrade`` and ``restart``
commands, so the rollback path is the same one an operator's own scripts would take:

* ``start`` spawns the service detached (own session, output to ``logs/service.out``) and
  returns once its port accepts connections, or fails with the reason (bounded wait).
* ``stop`` sends SIGTERM to the service's process group, waits, then SIGKILL if it must.
* ``restart`` is stop + start; ``upgrade`` installs a release (default: the bad one) and
  restarts.

A process counts as this host's service only if its command line names the service module
and this host's directory: a recycled pid is never signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from rollsafe.demo import layout, releases
from rollsafe.domain import errors

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.05


class ServiceControlError(errors.PermanentError):
    """The service could not be started or stopped; the message says why."""


def alive(proc: psutil.Process) -> bool:
    """True while ``proc`` runs; a zombie counts as gone."""
    # A zombie has exited; it only waits to be reaped (possibly never, in a container).
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(procs: list[psutil.Process], *, timeout: float) -> list[psutil.Process]:
    """Wait until every process in ``procs`` is gone; returns those still alive at timeout."""
    deadline = time.monotonic() + timeout
    left = [p for p in procs if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(_POLL_S)
        left = [p for p in left if alive(p)]
    for proc in procs:
        # Our own children can be reaped now; others are reaped by init (or stay zombies).
        with contextlib.suppress(psutil.Error, ChildProcessError):
            proc.wait(timeout=0)
    return left


def _is_service_of(proc: psutil.Process, root: Path) -> bool:
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return False
    return layout.SERVICE_MODULE in cmdline and str(root) in cmdline


def processes(root: Path) -> list[psutil.Process]:
    """Every live service process of the host at ``root`` (normally zero or one)."""
    root = root.resolve()
    found: dict[int, psutil.Process] = {}
    pid = _pid_from_file(root)
    if pid is not None:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if alive(proc) and _is_service_of(proc, root):
                found[pid] = proc
    # The pid file can be missing (killed before writing it, or removed by hand): look too.
    for proc in psutil.process_iter():
        if proc.pid not in found and _is_service_of(proc, root) and alive(proc):
            found[proc.pid] = proc
    return list(found.values())


def running_pid(root: Path) -> int | None:
    """The pid of the host's service if the pid file names a live one."""
    root = root.resolve()
    pid = _pid_from_file(root)
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return None
    return pid if alive(proc) and _is_service_of(proc, root) else None


def _pid_from_file(root: Path) -> int | None:
    try:
        return int((root / layout.PID_FILE).read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.2):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])


def start(root: Path, *, timeout: float = START_TIMEOUT_S) -> int:
    """Start the host's service unless it runs already; returns its pid once it is serving.

    The spawning happens in a short-lived ``servicectl start`` process, so the service is
    never a child of the caller: a long-lived caller (the demo, a test run) is left with no
    child to reap and no zombie when the service later stops.
    """
    root = root.resolve()
    try:
        done = subprocess.run(
            [sys.executable, "-m", layout.CTL_MODULE, "start", str(root)],
            capture_output=True,
            text=True,
            timeout=timeout + 10,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceControlError(f"{root.name}: servicectl start did not return") from exc
    if done.returncode != 0:
        raise ServiceControlError(
            (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        )
    pid = running_pid(root)
    if pid is None:
        raise ServiceControlError(f"{root.name}: started, but exited right away")
    return pid


def _start_here(root: Path, *, timeout: float = START_TIMEOUT_S) -> int:
    """Spawn the service from this process and wait until it serves (the CLI's ``start``)."""
    root = root.resolve()
    existing = running_pid(root)
    if existing is not None:
        return existing
    host = layout.read_host(root)
    out_path = root / layout.OUT_FILE
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (root / layout.PID_FILE).unlink()  # stale: its process is gone
    command = [
        sys.executable, "-m", layout.SERVICE_MODULE,
        "--root", str(root), "--port", str(host.port), "--name", host.name,
    ]  # fmt: skip
    with out_path.open("ab") as out:
        # Own session: the service outlives this command and is signalled as a group.
        child = subprocess.Popen(
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            raise ServiceControlError(
                f"{host.name}: service exited with status {code} while starting: "
                f"{_tail(out_path) or 'no output'}"
            )
        if _pid_from_file(root) == child.pid and _accepts(host.address, host.port):
            return child.pid
        time.sleep(_POLL_S)
    _signal_group(child.pid, signal.SIGKILL)
    child.wait()
    raise ServiceControlError(
        f"{host.name}: port {host.port} did not accept connections within {timeout:g}s: "
        f"{_tail(out_path) or 'no output'}"
    )


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)  # the service and anything it spawned
        else:
            os.kill(pid, signum)


def stop(root: Path, *, timeout: float = STOP_TIMEOUT_S) -> list[int]:
    """Stop every service process of the host; returns the pids that were stopped."""
    root = root.resolve()
    procs = processes(root)
    for proc in procs:
        _signal_group(proc.pid, signal.SIGTERM)
    for proc in wait_gone(procs, timeout=timeout):
        _signal_group(proc.pid, signal.SIGKILL)
    wait_gone(procs, timeout=timeout)
    with contextlib.suppress(FileNotFoundError):
        (root / layout.PID_FILE).unlink()
    return [p.pid for p in procs]


def restart(root: Path) -> int:
    stop(root)
    return start(root)


def _release(version: str) -> releases.Release:
    try:
        return releases.CATALOG[version]
    except KeyError:
        known = ", ".join(sorted(releases.CATALOG))
        raise ServiceControlError(f"unknown release {version!r} (known: {known})") from None


def upgrade(root: Path, version: str = releases.BAD.version) -> int:
    """Install release ``version`` into the host's release directory and restart it."""
    releases.install(root.resolve() / layout.RELEASE_DIR, _release(version))
    return restart(root)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rollsafe.demo.servicectl")
    parser.add_argument("action", choices=["start", "stop", "restart", "upgrade", "status"])
    parser.add_argument("root", type=Path, help="the host's directory")
    parser.add_argument("release", nargs="?", default=releases.BAD.version)
    args = parser.parse_args(argv)
    root: Path = args.root
    try:
        if args.action == "start":
            _say(f"started pid {_start_here(root)}")
        elif args.action == "stop":
            pids = stop(root)
            _say(f"stopped {', '.join(map(str, pids))}" if pids else "not running")
        elif args.action == "restart":
            stop(root)
            _say(f"restarted, pid {_start_here(root)}")
        elif args.action == "upgrade":
            releases.install(root.resolve() / layout.RELEASE_DIR, _release(args.release))
            stop(root)
            _say(f"upgraded to {args.release}, pid {_start_here(root)}")
        else:
            pid = running_pid(root)
            _say(f"running, pid {pid}" if pid else "not running")
            return 0 if pid else 3
    except (ServiceControlError, OSError) as exc:
        sys.stderr.write(f"servicectl {args.action}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
