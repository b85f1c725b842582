"""The SSH transport: a recipe's shell text run on a remote host with asyncssh.

Role in the loop (reach): the host driver checkpoints, rolls back and checks hosts through
this transport when they are reached over SSH. Safety rules:

- the host key is always checked against the configured ``known_hosts`` file; an unknown or
  changed key is a permanent ``DriverError`` that says how to fix it, never a silent trust;
- one connection per host is kept and reused (reconnected when it dropped), and at most
  ``max_sessions`` commands run on one host at a time;
- the remote command runs under ``timeout`` (coreutils) so that it is stopped on the host
  even when the connection is lost; the channel is also signalled and closed here;
- the environment is sent as ``export K='v';`` in front of the command (sshd rarely accepts
  ``AcceptEnv``), never logged, and its values are masked in the output kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import time
from collections.abc import Mapping
from pathlib import Path

import asyncssh

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.reach.transports import outputs, transporting

TIMEOUT_EXIT = 124  # coreutils `timeout` exits with this when the command ran out of time
KILL_AFTER = 2.0  # seconds the remote `timeout` waits between SIGTERM and SIGKILL
_LOCAL_GRACE = 5.0  # extra seconds here before the channel is closed from this side
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SshTransport:
    """Implements ``transporting.Transport`` over SSH; the host is ``target.address``."""

    kind = "ssh"

    def __init__(
        self,
        config: models.SshTransport,
        *,
        output_limit: int = 16384,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self._limit = output_limit
        self._environ = os.environ if environ is None else environ
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: dict[str, asyncssh.SSHClientConnection] = {}
        self._connecting: dict[str, asyncio.Lock] = {}
        self._sessions: dict[str, asyncio.Semaphore] = {}
        self._keys: list[asyncssh.SSHKey] | None = None

    # ------------------------------------------------------------------ run

    async def run(
        self,
        target: models.Target,
        script: str,
        *,
        limit_s: float,
        env: Mapping[str, str] | None = None,
    ) -> transporting.CommandResult:
        self._bind_loop()
        host = target.address
        extra = dict(env or {})
        command = self.wrap(script, limit_s=limit_s, env=extra)
        semaphore = self._sessions.setdefault(host, asyncio.Semaphore(self.config.max_sessions))
        async with semaphore:
            started = time.monotonic()
            process = await self._open_process(target, command)
            try:
                async with asyncio.timeout(limit_s + KILL_AFTER + _LOCAL_GRACE):
                    completed = await process.wait(check=False)
            except TimeoutError:
                self._abandon(process)
                raise errors.DriverError(
                    f"{target.id}: command timed out after {limit_s:g}s and the host did not "
                    "end it; its channel was signalled and closed"
                ) from None
            except asyncio.CancelledError:
                self._abandon(process)
                raise
            except (asyncssh.Error, OSError) as exc:
                self._forget(host)
                raise errors.DriverTemporaryError(
                    f"{target.id}: the SSH connection to {host} was lost during a command: "
                    f"{_reason(exc)}",
                    retry_after=5.0,
                ) from exc
            duration = time.monotonic() - started
        status = completed.exit_status
        if status is None:
            # No exit status: the remote side died of a signal or the channel closed.
            signal_name = completed.exit_signal[0] if completed.exit_signal else "unknown"
            status = -1
            extra_note = f"\n[remote command ended by signal {signal_name}]"
        else:
            extra_note = ""
        if status == TIMEOUT_EXIT and duration >= limit_s:
            raise errors.DriverError(
                f"{target.id}: command timed out after {limit_s:g}s; the host stopped it "
                "(SIGTERM, then SIGKILL)"
            )
        secrets = list(extra.values())
        raw_out = completed.stdout if isinstance(completed.stdout, bytes) else b""
        raw_err = completed.stderr if isinstance(completed.stderr, bytes) else b""
        stdout, cut_out = outputs.keep(raw_out, limit=self._limit, secrets=secrets)
        stderr, cut_err = outputs.keep(
            raw_err + extra_note.encode(), limit=self._limit, secrets=secrets
        )
        return transporting.CommandResult(
            exit_status=status,
            stdout=stdout,
            stderr=stderr,
            duration=duration,
            truncated=cut_out or cut_err,
        )

    @staticmethod
    def wrap(script: str, *, limit_s: float, env: Mapping[str, str]) -> str:
        """The command line sent to sshd: exports, then ``script`` under ``timeout``."""
        exports = []
        for name, value in env.items():
            if not _ENV_NAME.match(name):
                raise errors.DriverError(f"environment variable name {name!r} is not valid")
            exports.append(f"export {name}={shlex.quote(value)}; ")
        seconds = max(1, int(limit_s + 0.999))
        return (
            "".join(exports)
            + f"exec timeout --kill-after={KILL_AFTER:g} {seconds} sh -c {shlex.quote(script)}"
            + " </dev/null"
        )

    async def close(self) -> None:
        connections = list(self._connections.values())
        self._connections.clear()
        for conn in connections:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    # ------------------------------------------------------------------ connections

    async def _open_process(
        self, target: models.Target, command: str
    ) -> asyncssh.SSHClientProcess[bytes]:
        """A started remote process; a dropped pooled connection is replaced once."""
        for attempt in (1, 2):
            conn = await self._connection(target)
            try:
                return await conn.create_process(command, encoding=None, stdin=asyncssh.DEVNULL)
            except asyncssh.ChannelOpenError as exc:
                self._forget(target.address)
                if attempt == 2:
                    raise errors.DriverTemporaryError(
                        f"{target.id}: the host refused a new SSH session: {exc.reason}",
                        retry_after=5.0,
                    ) from exc
            except (asyncssh.Error, OSError) as exc:
                self._forget(target.address)
                if attempt == 2:
                    raise errors.DriverTemporaryError(
                        f"{target.id}: the SSH connection to {target.address} failed: "
                        f"{_reason(exc)}",
                        retry_after=5.0,
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connection(self, target: models.Target) -> asyncssh.SSHClientConnection:
        host = target.address
        lock = self._connecting.setdefault(host, asyncio.Lock())
        async with lock:
            conn = self._connections.get(host)
            if conn is not None and not conn.is_closed():
                return conn
            conn = await self._connect(target)
            self._connections[host] = conn
            return conn

    async def _connect(self, target: models.Target) -> asyncssh.SSHClientConnection:
        config = self.config
        host = target.address
        known_hosts = self._known_hosts()
        if known_hosts is None:
            raise errors.DriverError(
                f"{target.id}: known_hosts file {config.known_hosts} does not exist; create it "
                f"with `ssh-keyscan -p {config.port} {host} >> {config.known_hosts}` after "
                "checking the "
                "fingerprint with the host's owner"
            )
        keys = self._client_keys()
        try:
            return await asyncssh.connect(
                host,
                port=config.port,
                username=config.user,
                known_hosts=str(known_hosts),
                client_keys=keys,
                agent_path=None if keys is not None else os.environ.get("SSH_AUTH_SOCK"),
                connect_timeout=config.connect_timeout,
                keepalive_interval=config.keepalive_interval,
                keepalive_count_max=3,
                config=None,  # ~/.ssh/config of the controller's user must not change policy
                preferred_auth="publickey",
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise errors.DriverError(
                f"{target.id}: the host key of {host}:{config.port} is not in {known_hosts} "
                f"(or does not match it): {exc.reason}. Check the key's fingerprint with the "
                f"host's owner, then add it with `ssh-keyscan -p {config.port} {host} >> "
                f"{known_hosts}`"
            ) from exc
        except asyncssh.PermissionDenied as exc:
            how = (
                f"key {config.identity_file}"
                if config.identity_file
                else "the keys of the ssh-agent"
            )
            raise errors.DriverError(
                f"{target.id}: {config.user}@{host} refused {how}: add its public key to "
                f"~{config.user}/.ssh/authorized_keys on the host, or fix `user`/`identity_file`"
            ) from exc
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise errors.DriverTemporaryError(
                f"{target.id}: cannot connect to {host}:{config.port} over SSH: {_reason(exc)}",
                retry_after=10.0,
            ) from exc

    def _known_hosts(self) -> Path | None:
        path = Path(self.config.known_hosts).expanduser()
        return path if path.is_file() else None

    def _client_keys(self) -> list[asyncssh.SSHKey] | None:
        """The configured private key, read once; None means "the ssh-agent's keys"."""
        config = self.config
        if config.identity_file is None:
            if not os.environ.get("SSH_AUTH_SOCK"):
                raise errors.DriverError(
                    "ssh transport: no identity_file is configured and no ssh-agent is running "
                    "(SSH_AUTH_SOCK is not set)"
                )
            return None
        if self._keys is None:
            passphrase = None
            if config.passphrase_env is not None:
                passphrase = self._environ.get(config.passphrase_env)
                if passphrase is None:
                    raise errors.DriverError(
                        f"ssh transport: environment variable {config.passphrase_env} "
                        "(passphrase_env) is not set"
                    )
            path = Path(config.identity_file).expanduser()
            try:
                self._keys = [asyncssh.read_private_key(str(path), passphrase)]
            except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
                raise errors.DriverError(
                    f"ssh transport: cannot use key {path}: {exc} (wrong passphrase_env?)"
                ) from exc
            except OSError as exc:
                raise errors.DriverError(
                    f"ssh transport: cannot read key {path}: {exc.strerror or exc}"
                ) from exc
        return self._keys

    def _bind_loop(self) -> None:
        """Connections and semaphores belong to one event loop: start afresh in a new one."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            for conn in self._connections.values():
                with contextlib.suppress(Exception):
                    conn.abort()
            self._connections.clear()
            self._connecting.clear()
            self._sessions.clear()
            self._loop = loop

    def _forget(self, host: str) -> None:
        conn = self._connections.pop(host, None)
        if conn is not None:
            conn.abort()

    @staticmethod
    def _abandon(process: asyncssh.SSHClientProcess[bytes]) -> None:
        # Ask sshd to signal the command (honoured by OpenSSH >= 7.9), then drop the channel:
        # the remote `timeout` ends it in any case.
        with contextlib.suppress(Exception):
            process.send_signal("KILL")
        with contextlib.suppress(Exception):
            process.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def make(config: models.SshTransport, *, output_limit: int) -> SshTransport:
    """The transport for ``config`` (the ``building`` module's entry point)."""
    return SshTransport(config, output_limit=output_limit)
