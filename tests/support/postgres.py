"""A throwaway PostgreSQL 15 server for the tests that run the store on PostgreSQL.

The store must behave the same on SQLite and PostgreSQL, so the PostgreSQL variants of the
storage and integration tests run against a real server: ``start`` runs ``initdb`` and
``postgres`` from the Debian packages in a fresh directory, listening on 127.0.0.1 on a free
port (and on a unix socket in that directory), with ``trust`` authentication for local
connections. PostgreSQL refuses to run as root, so the server runs as the ``postgres``
system user (``runuser``) when the tests run as root.

The data directory lives in its own temporary directory rather than under pytest's
``tmp_path``: pytest makes its base directory private to the user running the tests, which
the ``postgres`` user could not even traverse. ``stop`` removes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 60.0
SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are not installed, or the server did not come up."""


@dataclasses.dataclass
class Server:
    """A running throwaway server; ``url`` reaches its ``postgres`` database as superuser."""

    port: int
    home: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def socket_dir(self) -> Path:
        return self.home / "sock"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a unique name when none is given); returns its URL."""
        import psycopg
        from psycopg import sql

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing any connection a test left open on it."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Fast shutdown (open sessions are cut), then remove the data directory."""
        if self.process.poll() is None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(
                    _as_server_user(
                        [
                            str(BIN_DIR / "pg_ctl"),
                            "stop",
                            "-D",
                            str(self.home / "data"),
                            "-m",
                            "fast",
                            "-w",
                        ]
                    ),
                    check=False,
                    capture_output=True,
                    timeout=60,
                )
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


def available() -> bool:
    return (BIN_DIR / "postgres").is_file() and os.access(BIN_DIR / "postgres", os.X_OK)


def start(tmp: Path) -> Server:
    """Initialise and start a server; returns once it accepts connections.

    ``tmp`` receives the server's log (``postgres.log``) so that a failing run leaves it
    behind for reading; the data directory is private to the server (see the module doc).
    """
    if not available():
        raise PostgresUnavailable(
            f"PostgreSQL 15 is not installed ({BIN_DIR / 'postgres'} is missing): "
            "install the Debian package postgresql-15 (CI does, in .ci/run)"
        )
    tmp.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="rollsafe-pg-"))
    (home / "sock").mkdir()
    _hand_over(home)
    log_path = tmp / "postgres.log"
    try:
        _run_checked(
            [
                str(BIN_DIR / "initdb"),
                "-D",
                str(home / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",  # only the throwaway cluster's creation; the server keeps fsync
            ]
        )
        port = _free_port()
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                _as_server_user(
                    [
                        str(BIN_DIR / "postgres"),
                        "-D",
                        str(home / "data"),
                        "-p",
                        str(port),
                        "-h",
                        "127.0.0.1",
                        "-k",
                        str(home / "sock"),
                        "-c",
                        "max_connections=200",
                        "-c",
                        "fsync=on",
                    ]
                ),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    server = Server(port=port, home=home, process=process, log_path=log_path)
    try:
        _await_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _await_ready(server: Server) -> None:
    """Ask ``pg_isready`` until the server answers; fail early if the server process died."""
    deadline = time.monotonic() + START_TIMEOUT_S
    pause = 0.01
    while True:
        if server.process.poll() is not None:
            raise PostgresUnavailable(
                f"postgres exited with status {server.process.returncode} while starting:\n"
                f"{server.log_tail()}"
            )
        ready = subprocess.run(
            [str(BIN_DIR / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(server.port)],
            check=False,
            capture_output=True,
        )
        if ready.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise PostgresUnavailable(
                f"postgres did not accept connections within {START_TIMEOUT_S:.0f} s:\n"
                f"{server.log_tail()}"
            )
        # pg_isready is the readiness event; back off so a slow machine is not hammered.
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SERVER_USER, "--", *argv]


def _hand_over(home: Path) -> None:
    """Give the server user the directory (postgres insists its data dir is its own, 0700)."""
    if os.geteuid() != 0:
        return
    shutil.chown(home, user=SERVER_USER, group=SERVER_USER)
    shutil.chown(home / "sock", user=SERVER_USER, group=SERVER_USER)
    home.chmod(0o700)


def _run_checked(argv: list[str]) -> None:
    done = subprocess.run(_as_server_user(argv), check=False, capture_output=True, timeout=120)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise PostgresUnavailable(f"{argv[0]} failed with status {done.returncode}:\n{output}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
