"""Running one recipe command and turning a non-zero exit into the right error.

Role in the loop (execute): the recipes share this so that every failed command says which
step failed and ends with the host's own last words (stderr), and so that what a recipe puts
into a command (a restore point id, a configured path or command rendered for the target) is
checked the same way everywhere.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute import commands
from rollsafe.execute.recipes import recipes
from rollsafe.reach.transports import transporting

_TAIL_LINES = 15
_POINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


async def run(
    host: recipes.Host,
    script: str,
    *,
    limit_s: float,
    what: str,
    error: type[errors.RollsafeError] = errors.DriverError,
    env: Mapping[str, str] | None = None,
) -> transporting.CommandResult:
    """Run ``script``; raise ``error`` (DriverError by default) unless it exits 0."""
    result = await host.run(script, limit_s=limit_s, env=env)
    if not result.ok:
        raise error(f"{host.target.id}: {what} failed (exit {result.exit_status}): {why(result)}")
    return result


def why(result: transporting.CommandResult) -> str:
    """The last lines of stderr (or stdout), for an error message."""
    text = result.stderr.strip() or result.stdout.strip() or "no output"
    return "\n".join(text.splitlines()[-_TAIL_LINES:])


def last_line(result: transporting.CommandResult) -> str:
    """The last line a command printed ("" for none): the scripts end with what they did."""
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def quote(value: str) -> str:
    return shlex.quote(value)


def script(*lines: str, functions: str = "", **values: str) -> str:
    """A ``set -eu`` shell script: ``functions``, ``NAME='value'`` for each of ``values``, then
    ``lines``, one a line.

    Values are quoted here, once, and the lines use them as ``"$NAME"``: nothing from a
    restore point or a configuration is ever spliced into the shell text itself.
    """
    assigned = [f"{name}={quote(value)}" for name, value in values.items()]
    return "\n".join(["set -eu", *filter(None, [functions.strip()]), *assigned, *lines]) + "\n"


def safe_point_id(point_id: str, *, error: type[errors.RollsafeError] = errors.DriverError) -> str:
    """``point_id``, refused with ``error`` unless it is safe as a file or subvolume name."""
    if not _POINT_ID.match(point_id):
        raise error(f"restore point id {point_id!r} is not a safe file name")
    return point_id


def is_point_id(name: str) -> bool:
    return bool(_POINT_ID.match(name))


def rendered_path(template: str, target: models.Target, *, what: str) -> str:
    """A configured path rendered for ``target`` and normalised."""
    try:
        return posixpath.normpath(models.render(template, target))
    except commands.TEMPLATE_ERRORS as exc:
        raise errors.DriverError(
            f"{what}: a path cannot be rendered for {target.id}: {exc}"
        ) from exc


def absolute_path(template: str, target: models.Target, *, what: str) -> str:
    """``rendered_path``, refused unless absolute and other than ``/`` itself."""
    path = rendered_path(template, target, what=what)
    if not path.startswith("/") or path == "/":
        raise errors.DriverError(f"{what}: {path!r} must be an absolute path other than /")
    return path
