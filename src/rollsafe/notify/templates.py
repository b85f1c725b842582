"""Message templates: a team rewords what rollsafe says without touching code.

Each notifier may carry ``templates`` (``rollsafe.config.models.MessageTemplate``) keyed by
event name (``run.failed``), a shell pattern (``run.*``) or ``*``. The most specific key wins:
the exact name, then the first matching pattern in the order written, then ``*``. A template
replaces the title and/or the text; ``{placeholders}`` are the message's fields::

    event severity title text target run_id rule state actor reason error mode deadline
    approve_url reject_url dashboard_url

``title`` and ``text`` inside a template are the built-in wording, so a template can wrap it
(``text: "{text}\\n\\nRunbook: https://wiki/rollback"``). A field without a value is empty.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from collections.abc import Mapping

from rollsafe.config import models
from rollsafe.notify import messages

__all__ = ["choose", "fields_of", "render"]

log = logging.getLogger("rollsafe.notify")


def choose(
    event: str, templates: Mapping[str, models.MessageTemplate]
) -> models.MessageTemplate | None:
    """The template for ``event``: exact key, then the first matching pattern, then ``*``."""
    if event in templates:
        return templates[event]
    for key, template in templates.items():
        if key != "*" and fnmatch.fnmatchcase(event, key):
            return template
    return templates.get("*")


def fields_of(message: messages.Message) -> dict[str, str]:
    """Every placeholder a template may use, with this message's values ('' when unknown)."""
    values = dict.fromkeys(models.TEMPLATE_FIELDS, "")
    values.update({k: v for k, v in message.fields.items() if k in models.TEMPLATE_FIELDS})
    values.update(
        event=message.event,
        severity=message.severity.label,
        title=message.title,
        text=message.text,
        target=message.target or "",
        run_id=message.run_id or "",
        approve_url=message.links.get(messages.APPROVE, ""),
        reject_url=message.links.get(messages.REJECT, ""),
        dashboard_url=message.links.get(messages.DASHBOARD, ""),
    )
    return values


def render(
    message: messages.Message, templates: Mapping[str, models.MessageTemplate]
) -> messages.Message:
    """``message`` with its title and text reworded by the matching template, if any."""
    template = choose(message.event, templates)
    if template is None:
        return message
    values = fields_of(message)
    try:
        title = template.title.format_map(values) if template.title is not None else message.title
        text = template.text.format_map(values) if template.text is not None else message.text
    except (ValueError, KeyError, IndexError) as exc:
        # A format spec that does not fit a value ({text:d}): say it, send the built-in wording.
        log.warning(
            "template for %s cannot be applied (%s); built-in wording used", message.event, exc
        )
        return message
    return dataclasses.replace(message, title=title, text=text)
