"""The root of ``rollsafe.yaml``: ``RollsafeConfig`` and its own sections, the store
(``store``) and the HTTP server (``server``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.access import Access
from rollsafe.config.models.base import Model, _no_duplicates
from rollsafe.config.models.drivers import Driver, Transport
from rollsafe.config.models.intake import IntakeEndpoint
from rollsafe.config.models.notifiers import Notifier
from rollsafe.config.models.policy import Policy
from rollsafe.config.models.presets import PresetUse
from rollsafe.config.models.probes import Probe
from rollsafe.config.models.rollouts import RolloutPlan
from rollsafe.config.models.rules import Rule
from rollsafe.config.models.shipping import AuditSink
from rollsafe.config.models.targets import Target
from rollsafe.domain import errors


class NotConfigured(errors.ConfigError, KeyError):
    """A name the configuration does not have: a target, a driver or a rollout plan.

    A ``ConfigError`` (fix the configuration, or the name given), and a ``KeyError`` too, so
    that the callers that look a name up and handle its absence themselves keep doing so.
    """

    def __str__(self) -> str:  # KeyError's own would quote the message
        return str(self.args[0]) if self.args else ""


def _unknown(what: str, name: str, known: list[str]) -> NotConfigured:
    listed = ", ".join(known) or "none"
    return NotConfigured(f"unknown {what} {name!r} (expected one of the configuration's: {listed})")


class Tls(Model):
    certfile: Path = Field(description="PEM certificate (chain); relative to the config file")
    keyfile: Path = Field(description="PEM private key; relative to the config file")


class Server(Model):
    """The HTTP API inside ``rollsafe run``: webhook intake, ``/healthz``, ``/openapi.json``."""

    enabled: bool = Field(default=True, description="Start the API with `rollsafe run`")
    address: str = Field(default="127.0.0.1", description="Address to listen on")
    port: int = Field(default=8787, ge=0, le=65535, description="0 picks a free port")
    tls: Tls | None = Field(default=None, description="Serve HTTPS with this certificate")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1, description="Larger request bodies are refused (413)"
    )
    read_timeout: Duration = Field(
        default=30.0,
        gt=0,
        description="A request whose headers and body have not all arrived by then is cut off "
        "(slow clients)",
    )
    keep_alive: int = Field(default=5, ge=1, description="Seconds an idle connection stays open")
    max_connections: int = Field(
        default=1000, ge=1, description="Open connections at once; more are answered 503"
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, description="Request line and headers, at most"
    )


class Store(Model):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (postgresql://user@host/db for replicas); default: SQLite "
        "in the state directory",
    )
    password_env: str | None = Field(
        default=None, description="Environment variable holding the database password"
    )
    lease_ttl: Duration = Field(
        default=10.0, description="A leader that has not renewed for this long is replaced"
    )
    lease_renew: Duration = Field(default=3.0, description="How often the leader renews")


class RollsafeConfig(Model):
    version: Literal[1] = Field(default=1, description="Version of the file format; only 1 exists")
    state_dir: Path = Field(default=Path("./state"), description="Relative to the config file")
    store: Store = Field(
        default_factory=Store,
        description="Where decisions, runs and audit are kept (SQLite or PostgreSQL)",
    )
    policy: Policy = Field(
        default_factory=Policy,
        description="How and when rollbacks may happen: approval, governors, timeouts",
    )
    targets: list[Target] = Field(
        default_factory=list, description="The hosts or services watched and rolled back"
    )
    probes: list[Probe] = Field(
        default_factory=list, description="Checks that observe the targets (by `kind`)"
    )
    rules: list[Rule] = Field(
        default_factory=list, description="How observations become decisions (by `kind`)"
    )
    presets: list[PresetUse] = Field(
        default_factory=list, description="Shipped default policies; they add rules"
    )
    drivers: list[Driver] = Field(
        default_factory=list,
        description="How targets are checkpointed, upgraded and rolled back (by `kind`)",
    )
    notifiers: list[Notifier] = Field(
        default_factory=list,
        description="Where people are told about decisions and runs (by `kind`)",
    )
    server: Server = Field(
        default_factory=Server, description="The HTTP API (webhook intake, health)"
    )
    intake: list[IntakeEndpoint] = Field(
        default_factory=list, description="Webhook endpoints receiving alerts"
    )
    access: Access = Field(
        default_factory=Access, description="API tokens and roles, approval links, /metrics"
    )
    audit_shipping: list[AuditSink] = Field(
        default_factory=list, description="Log platforms the audit events are also sent to"
    )
    rollouts: list[RolloutPlan] = Field(
        default_factory=list, description="Guarded upgrades in waves (`rollsafe rollout`)"
    )
    transports: dict[str, Transport] = Field(
        default_factory=dict,
        description="Named transports: a probe's or host driver's `transport: NAME` uses the "
        "entry here, and all users of one name share its connections",
    )

    @model_validator(mode="before")
    @classmethod
    def _named_transports(cls, data: object) -> object:
        """Replace ``transport: NAME`` in probes and drivers by the named entry."""
        if not isinstance(data, dict):
            return data
        named = data.get("transports") or {}
        if not isinstance(named, dict):
            return data
        out = dict(data)
        for section in ("probes", "drivers"):
            items = out.get(section)
            if not isinstance(items, list):
                continue
            resolved = []
            for entry in items:
                ref = entry.get("transport") if isinstance(entry, dict) else None
                if isinstance(ref, str):
                    if ref not in named:
                        known = ", ".join(sorted(named)) or "none defined"
                        raise ValueError(
                            f"{section[:-1]} {entry.get('name')!r}: transport {ref!r} is not "
                            f"in `transports` (known: {known})"
                        )
                    resolved.append({**entry, "transport": named[ref]})
                else:
                    resolved.append(entry)
            out[section] = resolved
        return out

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, targets: list[Target]) -> list[Target]:
        _no_duplicates([t.id for t in targets], "target id")
        return targets

    @field_validator("probes")
    @classmethod
    def _unique_probes(cls, probes: list[Probe]) -> list[Probe]:
        _no_duplicates([p.name for p in probes], "probe name")
        return probes

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[Rule]) -> list[Rule]:
        _no_duplicates([r.id for r in rules], "rule id")
        return rules

    @field_validator("drivers")
    @classmethod
    def _unique_drivers(cls, drivers: list[Driver]) -> list[Driver]:
        _no_duplicates([d.name for d in drivers], "driver name")
        return drivers

    @field_validator("intake")
    @classmethod
    def _unique_intake(cls, intake: list[IntakeEndpoint]) -> list[IntakeEndpoint]:
        _no_duplicates([e.name for e in intake], "intake endpoint name")
        return intake

    @field_validator("audit_shipping")
    @classmethod
    def _unique_sinks(cls, sinks: list[AuditSink]) -> list[AuditSink]:
        _no_duplicates([s.name for s in sinks], "audit_shipping name")
        return sinks

    def target(self, target_id: str) -> Target:
        for t in self.targets:
            if t.id == target_id:
                return t
        raise _unknown("target", target_id, [t.id for t in self.targets])

    @field_validator("rollouts")
    @classmethod
    def _unique_rollouts(cls, plans: list[RolloutPlan]) -> list[RolloutPlan]:
        _no_duplicates([p.name for p in plans], "rollout name")
        return plans

    def driver(self, name: str) -> Driver:
        for d in self.drivers:
            if d.name == name:
                return d
        raise _unknown("driver", name, [d.name for d in self.drivers])

    def rollout(self, name: str) -> RolloutPlan:
        for plan in self.rollouts:
            if plan.name == name:
                return plan
        raise _unknown("rollout plan", name, [p.name for p in self.rollouts])
