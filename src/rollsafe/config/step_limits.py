"""How long one rollback step (or precheck) of a driver may run before the executor stops it.

Role in the loop (execute, read from config): ``policy.step_timeout`` is the default limit of
one step. Drivers that wait inside a step by their own settings (a cloud restore that takes
half an hour, a reboot, a Kubernetes rollout) get the longest of those waits instead, so a
slow but normal restore is never cut off by a default meant for quick commands, and the
driver's own, better explained, timeout fires first.
"""

from __future__ import annotations

from rollsafe.config import models

GRACE_S = 30.0
"""Room above a driver's own wait: its last poll and its error reach the executor first."""


def waits(driver: models.Driver) -> list[tuple[tuple[str, ...], float]]:
    """The waits ``driver`` may spend inside one rollback step: (field path, seconds)."""
    if isinstance(driver, models.AwsDriver | models.TencentDriver | models.AliyunDriver):
        return [
            (("restore_wait",), driver.restore_wait),
            (("instance_wait",), driver.instance_wait),
        ]
    if isinstance(driver, models.KubernetesDriver):
        return [(("rollout_timeout",), driver.rollout_timeout)]
    if isinstance(driver, models.LocalDriver):
        # Each command of a step may run this long before the driver kills it.
        return [(("step_timeout",), driver.step_timeout)]
    if isinstance(driver, models.HostDriver):
        found: list[tuple[tuple[str, ...], float]] = [(("step_timeout",), driver.step_timeout)]
        recipe = driver.recipe
        # A recipe that reboots waits for the new boot within its own step.
        if isinstance(recipe, models.LvmRecipe | models.OstreeRecipe) or (
            isinstance(recipe, models.SnapperRecipe) and recipe.mode == "rollback"
        ):
            found.append((("recipe", "reboot_timeout"), recipe.reboot_timeout))
        return found
    return []


def for_driver(policy: models.Policy, driver: models.Driver | None) -> float:
    """The executor's limit of one step of ``driver``: the policy's, or the driver's longest
    wait plus ``GRACE_S`` when that is longer."""
    longest = max((seconds for _, seconds in waits(driver)), default=0.0) if driver else 0.0
    if longest <= 0 or longest + GRACE_S <= policy.step_timeout:
        return policy.step_timeout
    return max(policy.step_timeout, longest + GRACE_S)
