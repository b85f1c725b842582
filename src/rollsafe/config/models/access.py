"""People's access (``access``): API tokens and their roles, approval links, ``/metrics``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, Model, _no_duplicates

Role = Literal["viewer", "operator", "admin"]


class ApiToken(Model):
    """One bearer token of the API and dashboard: who holds it and what it may do.

    The token itself never sits in this file: it is read from an environment variable or a file.
    """

    name: str = Field(pattern=_ID_PATTERN, description="Who holds it; audited as api:<name>")
    role: Role = Field(description="viewer reads; operator also approves and rolls back; admin all")
    token_env: str | None = Field(default=None, description="Env var holding the token")
    token_file: Path | None = Field(
        default=None, description="File holding the token (relative to the config file)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ApiToken:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("give exactly one of `token_env` or `token_file`")
        return self


class Access(Model):
    """Who may see and do what through the API, the dashboard and links in chat messages."""

    tokens: list[ApiToken] = Field(default_factory=list, description="API tokens and their roles")
    link_key_env: str | None = Field(
        default=None, description="Env var holding the key that signs approve/reject links"
    )
    link_key_file: Path | None = Field(
        default=None, description="File holding that key (relative to the config file)"
    )
    link_ttl: Duration = Field(default=3600.0, description="How long a link in a message works")
    public_url: str | None = Field(
        default=None,
        description="Base URL people reach rollsafe at, e.g. https://rollsafe.example.com; "
        "links in messages start with it",
    )
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without a token (trusted networks only)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Access:
        if self.link_key_env is not None and self.link_key_file is not None:
            raise ValueError("give at most one of `link_key_env` or `link_key_file`")
        if self.link_ttl <= 0:
            raise ValueError("link_ttl must be greater than 0")
        _no_duplicates([t.name for t in self.tokens], "token name")
        return self
