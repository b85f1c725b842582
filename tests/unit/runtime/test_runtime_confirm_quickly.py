"""A first failure of several a rule needs puts the target under close watch, once per streak."""

from __future__ import annotations

import time
from pathlib import Path

from rollsafe.config import loading, models
from rollsafe.domain import ids, observations
from rollsafe.runtime import daemon


class _Watches:
    """Stands in for the scheduler: records what the daemon asks it to watch."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, float, float]] = []

    def watch(
        self, target_id: str, *, duration: float, interval: float, at_once: bool = True
    ) -> int:
        assert not at_once  # the target was looked at just now
        self.asked.append((target_id, duration, interval))
        return 1


def _daemon(tmp_path: Path, *, confirm_window: float = 60.0) -> daemon.Daemon:
    config = models.RollsafeConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "policy": {"dry_run": True, "confirm_window": confirm_window, "watch_interval": 1},
            "targets": [{"id": "web-1"}, {"id": "web-2"}],
            "probes": [
                {"name": "http", "kind": "http", "url": "http://{address}/", "interval": 60}
            ],
            "rules": [
                {
                    "id": "down",
                    "kind": "threshold",
                    "probe": "http",
                    "field": "status",
                    "op": ">=",
                    "value": 500,
                    "consecutive": 3,
                    "severity": "critical",
                }
            ],
        }
    )
    loaded = loading.LoadedConfig(
        config=config, path=tmp_path / "rollsafe.yaml", state_dir=tmp_path
    )
    return daemon.Daemon(loaded)


def _seen(target: str, status: int) -> observations.Observation:
    return observations.Observation(
        time=time.time(), target=ids.TargetId(target), source="http", value=1.0, status=status
    )


def test_the_first_failure_of_a_streak_asks_for_a_close_look_and_only_once(tmp_path: Path) -> None:
    d = _daemon(tmp_path)
    watches = _Watches()
    d.acting.watcher = watches
    try:
        for status in (200, 200, 200):
            d._observe(_seen("web-1", status), save=True)
        assert watches.asked == []  # healthy: nothing to confirm
        d._observe(_seen("web-1", 503), save=True)
        assert watches.asked == [("web-1", 60.0, 1.0)]
        d._observe(_seen("web-1", 503), save=True)  # still the same streak: no second watch
        d._observe(_seen("web-2", 200), save=True)  # another target, healthy
        assert watches.asked == [("web-1", 60.0, 1.0)]
        d._observe(_seen("web-1", 200), save=True)  # cleared
        d._observe(_seen("web-1", 502), save=True)  # a new streak starts
        assert watches.asked == [("web-1", 60.0, 1.0), ("web-1", 60.0, 1.0)]
    finally:
        d.store.close()


def test_a_confirm_window_of_zero_never_watches(tmp_path: Path) -> None:
    d = _daemon(tmp_path, confirm_window=0)
    watches = _Watches()
    d.acting.watcher = watches
    try:
        for status in (200, 200, 200, 503, 503):
            d._observe(_seen("web-1", status), save=True)
        assert watches.asked == []
    finally:
        d.store.close()


def test_a_probe_that_could_not_observe_asks_for_a_close_look(tmp_path: Path) -> None:
    d = _daemon(tmp_path)
    watches = _Watches()
    d.acting.watcher = watches
    try:
        d._observe(_seen("web-1", 200), save=True)
        refused = observations.Observation(
            time=time.time(), target=ids.TargetId("web-1"), source="http", error="refused"
        )
        d._observe(refused, save=True)
        assert watches.asked == [("web-1", 60.0, 1.0)]
    finally:
        d.store.close()


def test_a_young_target_with_too_few_values_is_watched_on_its_first_failure(
    tmp_path: Path,
) -> None:
    d = _daemon(tmp_path)
    watches = _Watches()
    d.acting.watcher = watches
    try:
        d._observe(_seen("web-1", 200), save=True)  # one value: the rule needs three to decide
        d._observe(_seen("web-1", 500), save=True)
        assert watches.asked == [("web-1", 60.0, 1.0)]
    finally:
        d.store.close()
