"""A local HTTP health endpoint that counts its requests: how tests see a close watch probe."""

from __future__ import annotations

import http.server
import threading


class Counted(http.server.ThreadingHTTPServer):
    """Answers 200 ``ok`` to every GET; ``hits`` counts them, ``third_hit`` is set at three."""

    def __init__(self) -> None:
        self.hits = 0
        self.third_hit = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                if server.hits >= 3:
                    server.third_hit.set()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return None

        super().__init__(("127.0.0.1", 0), Handler)
