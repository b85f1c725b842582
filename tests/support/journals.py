"""Real systemd journal files for the journal-following tests, written by systemd-journal-remote.

No journald runs in the test container; ``systemd-journal-remote -o FILE EXPORT`` appends
entries given in the journal export format to a real journal file, which ``journalctl --file``
then reads exactly as it reads a host's journal.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def append(journal: Path, messages: list[tuple[str, str]]) -> None:
    """``messages`` as (identifier, text) entries appended to ``journal``; "kernel" ones are
    kernel messages, the others belong to ``app.service``."""
    now = int(time.time() * 1e6)
    export = journal.with_suffix(f".{now}.export")
    export.write_text(
        "".join(
            f"__REALTIME_TIMESTAMP={now + i}\n__MONOTONIC_TIMESTAMP={now + i}\n"
            "_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web1\n"
            f"MESSAGE={message}\nSYSLOG_IDENTIFIER={ident}\n"
            + ("_TRANSPORT=kernel\n" if ident == "kernel" else "_SYSTEMD_UNIT=app.service\n")
            + "\n"
            for i, (ident, message) in enumerate(messages)
        )
    )
    subprocess.run(
        [JOURNAL_REMOTE, "-o", str(journal), str(export)], check=True, capture_output=True
    )
