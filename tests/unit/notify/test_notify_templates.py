"""Message templates: chosen by event, pattern or '*', filled with the message's fields."""

from __future__ import annotations

import pydantic
import pytest
from notify_receivers import waiting_message

from rollsafe.config import models
from rollsafe.notify import templates


def _t(**kwargs):
    return models.MessageTemplate(**kwargs)


def test_the_most_specific_template_wins():
    chosen = {
        "*": _t(title="any"),
        "run.*": _t(title="a run"),
        "run.announced": _t(title="announced"),
    }
    assert templates.choose("run.announced", chosen).title == "announced"
    assert templates.choose("run.failed", chosen).title == "a run"
    assert templates.choose("decision.warning", chosen).title == "any"
    assert templates.choose("decision.warning", {"run.*": _t(title="x")}) is None


def test_a_template_rewords_with_the_fields_and_can_wrap_the_built_in_text():
    message = waiting_message(fields={"rule": "http-5xx", "deadline": "2023-11-14 22:28 UTC"})
    worded = templates.render(
        message,
        {
            "run.announced": _t(
                title="[{severity}] {target} needs you by {deadline}",
                text="{text}\nRunbook: https://wiki.example.com/rollback/{rule}\n{approve_url}",
            )
        },
    )
    assert worded.title == "[critical] web-1 needs you by 2023-11-14 22:28 UTC"
    assert worded.text.startswith(message.text)
    assert "wiki.example.com/rollback/http-5xx" in worded.text
    assert worded.text.endswith("/approve?token=A.B")
    assert worded.links == message.links  # the buttons keep working


def test_unknown_or_malformed_placeholders_are_configuration_errors():
    with pytest.raises(pydantic.ValidationError, match="unknown placeholder"):
        _t(title="{hostname} is down")
    with pytest.raises(pydantic.ValidationError, match="unknown placeholder"):
        _t(text="{target.__class__}")
    with pytest.raises(pydantic.ValidationError, match="malformed"):
        _t(text="{target")


def test_a_format_spec_that_does_not_fit_falls_back_to_the_built_in_wording():
    message = waiting_message()
    assert templates.render(message, {"*": _t(title="{target:d}")}) == message
