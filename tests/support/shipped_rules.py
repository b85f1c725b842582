"""The shapes of shipped rules that judge and replay tests write into their own configs.

One copy of each, so a test of the judge (tests/unit/judge) and a test of a whole replay
(tests/integration) state the same rule the presets ship, and a change of the shipped shape is
made in one place.
"""

from __future__ import annotations

from typing import Any

# The shipped `down`'s shape on a health check: three failing checks in a row spanning 30 s.
HEALTH_DOWN: dict[str, Any] = {
    "id": "down",
    "kind": "threshold",
    "severity": "critical",
    "probe": "health",
    "op": "<",
    "value": 1,
    "consecutive": 3,
    "for": "30s",
}
