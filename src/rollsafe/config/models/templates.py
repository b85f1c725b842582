"""Template helpers: how a target's id, address, labels and ``vars`` fill the command and
URL templates of probes, drivers and notifiers (``{name}`` and ``$name`` styles).
"""

from __future__ import annotations

import string

from rollsafe.config.models.targets import Target


def template_vars(target: Target) -> dict[str, str]:
    """Variables available to templates for ``target``: id, address, labels, vars."""
    out: dict[str, str] = {k: str(v) for k, v in target.labels.items()}
    out.update({k: str(v) for k, v in target.vars.items()})
    out["id"] = target.id
    out["address"] = target.address
    return out


def render(template: str, target: Target) -> str:
    """``template`` with the target's variables; KeyError names an unknown variable."""
    return template.format_map(template_vars(target))


def render_dollar(template: str, target: Target) -> str:
    """``template`` with ``$name`` / ``${name}`` placeholders (for text full of braces, such
    as PromQL); KeyError names an unknown variable, ValueError a malformed placeholder."""
    return string.Template(template).substitute(template_vars(target))
