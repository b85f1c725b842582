"""A small but real web service: what each demo host runs, and what the upgrade breaks.

``python -m rollsafe.demo.service --root DIR --port P`` serves on 127.0.0.1:

* ``GET /health``  -> ``{"status": "ok", "version": ...}``
* ``GET /items``   -> rows of ``DIR/data/app.db`` (SQLite, table ``items``)
* ``GET /version`` -> the release manifest
* ``GET /metrics`` -> Prometheus text format: ``http_requests_total`` by ``path`` and
  ``code`` (every answer the service gave, 5xx included; the 200 and 500 series of each path
  exist from the start, at 0) and ``app_release_info``. Scrapes are not counted and never
  fail, so a scrape tells about the release, not about itself.

It runs the release in ``DIR/release`` (see ``rollsafe.demo.releases``). A release with
``error_every = n`` answers every n-th request with HTTP 500 and writes an ``ERROR`` line,
like an application whose new code path throws. Healthy releases write INFO lines and the
odd WARN, never ERROR, so a log rule that fires has seen a real change.

The log is ``DIR/logs/app.log``; the pid file ``DIR/run/service.pid`` is written once the
port is bound and removed on a clean exit. SIGTERM (and SIGINT) stop it cleanly.
Standard library only: the demo must not depend on anything a newcomer lacks.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from http import server as http_server
from pathlib import Path
from types import FrameType
from typing import Any

from rollsafe.demo import layout, releases

# How often the background worker logs housekeeping, and how often that is a WARN: enough
# to make the healthy log look like a real one (INFO chatter, the odd warning).
_HOUSEKEEPING_S = 2.0
_WARN_EVERY = 5
_COUNTED_PATHS = frozenset({"/health", "/items", "/version"})


class AppLog:
    """Append-only, line-buffered application log shared by request threads."""

    def __init__(self, path: Path, *, name: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        self._name = name

    def write(self, level: str, message: str) -> None:
        stamp = datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="milliseconds")
        line = f"{stamp} {level:<5} [{self._name}] {message}\n"
        with self._lock:
            self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class App:
    """The service's state: its release, its data file, its request counter."""

    def __init__(self, root: Path, *, name: str) -> None:
        self.root = root
        self.name = name
        self.release = releases.read(root / layout.RELEASE_DIR)
        self.log = AppLog(root / layout.LOG_FILE, name=name)
        self._db_uri = f"file:{root / layout.DATA_FILE}?mode=ro"
        self._lock = threading.Lock()
        self._served = 0
        # Every series exists from the start, at 0, as Prometheus' guidance asks: a 5xx
        # counter born only with the first error needs a second scrape before rate() sees it.
        self._answered: dict[tuple[str, int], int] = {
            (path, code): 0 for path in _COUNTED_PATHS for code in (200, 500)
        }

    def next_request_fails(self) -> bool:
        """Count the request; True when this release makes it fail."""
        with self._lock:
            self._served += 1
            count = self._served
        every = self.release.error_every
        return every > 0 and count % every == 0

    def answered(self, path: str, status: int) -> None:
        """Count one answer for ``/metrics``; unknown paths share one label value."""
        label = path if path in _COUNTED_PATHS else "other"
        with self._lock:
            self._answered[(label, status)] = self._answered.get((label, status), 0) + 1

    def metrics(self) -> str:
        """The counters in the Prometheus text exposition format."""
        with self._lock:
            counts = sorted(self._answered.items())
        lines = [
            "# HELP http_requests_total Requests answered, by path and HTTP status code.",
            "# TYPE http_requests_total counter",
            *(f'http_requests_total{{path="{p}",code="{c}"}} {n}' for (p, c), n in counts),
            "# HELP app_release_info The running release (value always 1).",
            "# TYPE app_release_info gauge",
            f'app_release_info{{version="{self.release.version}"}} 1',
        ]
        return "\n".join(lines) + "\n"

    def items(self, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
        # Read-only: the data file must stay byte-identical for the data checks.
        with contextlib.closing(sqlite3.connect(self._db_uri, uri=True)) as db:
            total = int(db.execute("SELECT count(*) FROM items").fetchone()[0])
            rows = db.execute(
                "SELECT id, name, price FROM items ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return total, [{"id": r[0], "name": r[1], "price": r[2]} for r in rows]


class Handler(http_server.BaseHTTPRequestHandler):
    server_version = "shop-api"
    app: App  # set on the subclass built by ``serve``

    def do_GET(self) -> None:
        started = time.perf_counter()
        app = self.app
        path = self.path.split("?", 1)[0]
        body: dict[str, Any]
        if path == "/metrics":
            data = app.metrics().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if app.next_request_fails():
            # What the bad release does: a new code path throws on a third of requests.
            # The line is written before the answer goes out, so whoever got the 500 can
            # already find it in the log.
            app.log.write(
                "ERROR",
                f"GET {path} 500: KeyError: 'tenant_shard' in tenant_lookup.resolve"
                f" (release {app.release.version})",
            )
            self._send(500, {"error": "internal server error"})
            return
        if path == "/health":
            status, body = 200, {"status": "ok", "version": app.release.version}
        elif path == "/version":
            status, body = 200, app.release.manifest()
        elif path == "/items":
            total, rows = app.items()
            status, body = 200, {"total": total, "items": rows}
        else:
            status, body = 404, {"error": "not found"}
        elapsed_ms = (time.perf_counter() - started) * 1000
        app.log.write("INFO", f"GET {path} {status} {elapsed_ms:.1f}ms")
        self._send(status, body)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self.app.answered(self.path.split("?", 1)[0], status)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # The app log above is the one log; http.server's stderr chatter would duplicate it.
        return


def _housekeeping(app: App, stop: threading.Event) -> None:
    rounds = 0
    while not stop.wait(_HOUSEKEEPING_S):
        rounds += 1
        if rounds % _WARN_EVERY == 0:
            app.log.write("WARN", "slow query on items: 112ms (threshold 100ms)")
        else:
            app.log.write("INFO", f"housekeeping: cache refreshed, {rounds} rounds")


def serve(root: Path, *, port: int, name: str) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status."""
    app = App(root, name=name)
    handler = type("BoundHandler", (Handler,), {"app": app})
    httpd = http_server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        app.log.write("INFO", f"received {signal.Signals(signum).name}, shutting down")
        stop.set()
        # shutdown() waits for serve_forever, which runs in this (the main) thread: call it
        # from another thread or it deadlocks.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = threading.Thread(target=_housekeeping, args=(app, stop), daemon=True)
    worker.start()
    pid_file = root / layout.PID_FILE
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n", encoding="utf-8")
    tmp.replace(pid_file)
    app.log.write(
        "INFO",
        f"starting release {app.release.version} on 127.0.0.1:{port} (pid {os.getpid()})",
    )
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
        stop.set()
        worker.join(timeout=1)
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        app.log.write("INFO", "stopped")
        app.log.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rollsafe.demo.service")
    parser.add_argument("--root", required=True, type=Path, help="the host's directory")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--name", default=None, help="default: the directory's name")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    return serve(root, port=args.port, name=args.name or root.name)


if __name__ == "__main__":
    sys.exit(main())
