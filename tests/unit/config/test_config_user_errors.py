"""Errors a person meets join rollsafe's error tree, each naming what was expected.

A name the configuration does not have (a target, a driver, a rollout plan given on the command
line or left in the store by an older configuration), a store URL that is not one, a password
variable that is not set, alembic run by hand without a database: each is a ``ConfigError``
(fix the configuration or the name given) whose message says what would have been accepted,
not a bare ``KeyError('web-9')`` traceback. Lookups stay ``KeyError`` too, for the callers that
handle an absent name themselves.
"""

from __future__ import annotations

import pytest
from alembic import command

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.storage import engines, migrating

CONFIG = models.RollsafeConfig.model_validate(
    {
        "targets": [{"id": "web-1", "driver": "local"}, {"id": "web-2", "driver": "local"}],
        "drivers": [{"name": "local", "kind": "local", "rollback": "true"}],
    }
)


@pytest.mark.parametrize(
    ("lookup", "words"),
    [
        (
            lambda: CONFIG.target("web-9"),
            "unknown target 'web-9' (expected one of the configuration's: web-1, web-2)",
        ),
        (
            lambda: CONFIG.driver("aws"),
            "unknown driver 'aws' (expected one of the configuration's: local)",
        ),
        (
            lambda: CONFIG.rollout("nightly"),
            "unknown rollout plan 'nightly' (expected one of the configuration's: none)",
        ),
    ],
)
def test_an_unknown_name_is_a_config_error_naming_the_known_ones(lookup, words) -> None:
    with pytest.raises(models.NotConfigured) as caught:
        lookup()
    assert isinstance(caught.value, errors.ConfigError)
    assert isinstance(caught.value, KeyError)  # callers that handle absence keep doing so
    assert str(caught.value) == words
    assert caught.value.problems == [words]


@pytest.mark.parametrize(
    "url",
    [
        "not a url at all",
        # SQLAlchemy's parser raises a bare ValueError for a port that is no number
        "postgresql://rollsafe:s3cret-pw@127.0.0.1:port/x",
    ],
)
def test_a_store_url_that_is_not_one_is_a_config_error(url: str) -> None:
    with pytest.raises(errors.ConfigError, match="expected sqlite:///PATH or postgresql://") as e:
        engines.resolve(url)
    assert "s3cret-pw" not in str(e.value)


def test_alembic_by_hand_without_a_database_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match=r"set sqlalchemy\.url"):
        command.upgrade(migrating.alembic_config(), "head")
