"""The ``alerts:`` section of airdeck.yaml: channels, routing, events, SLAs and delivery.

Example::

    alerts:
      channels:
        team-a-slack: {type: slack, connection: slack_team_a}
        oncall-mail:  {type: email, connection: smtp_default, to: [oncall@example.com]}
      routes:
        - {tags: [team-a], channels: [team-a-slack]}
      default_channels: [oncall-mail]
      slas:
        - {dag_id: "etl_*", within: 30m, after: queued_at}

Durations are written ``90s``, ``5m``, ``1h30m``, ``2d`` (or a number of seconds). Links to Grafana in
messages use ``observability.grafana_url``.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airdeck.config.base import Duration, EmailAddress, Port, Section

_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")

EVENTS = ("task_failed", "dag_run_failed", "sla_missed", "dag_import_error", "task_retry", "recovered")
Event = Literal["task_failed", "dag_run_failed", "sla_missed", "dag_import_error", "task_retry", "recovered"]


def _conn_id(value: str) -> str:
    if not _CONN_ID.match(value):
        raise ValueError("must be an Airflow connection id (letters, digits, _ . -)")
    return value


class ChannelSettings(Section):
    """One destination. Slack uses an incoming-webhook connection, email an SMTP connection."""

    type: Literal["slack", "email"] = Field(description="slack (incoming webhook) or email (SMTP).")
    connection: str = Field(
        description="Airflow connection id: type slackwebhook (token/URL in the password) or smtp.")
    to: list[EmailAddress] = Field(default_factory=list, description="Email recipients (email channels only).")
    from_email: EmailAddress | None = Field(
        None, description="Sender address; default: the SMTP connection's from_email.")

    @field_validator("connection")
    @classmethod
    def _connection_id(cls, value: str) -> str:
        return _conn_id(value)

    @model_validator(mode="after")
    def _recipients(self) -> ChannelSettings:
        if self.type == "email" and not self.to:
            raise ValueError("an email channel needs at least one recipient in 'to'")
        if self.type == "slack" and self.to:
            raise ValueError("'to' is for email channels; a Slack webhook posts to its own channel")
        return self


class DagMatch(Section):
    """Which DAGs a rule applies to. Every given criterion must hold; a list matches if any entry does."""

    dag_id: str | None = Field(None, description="dag_id glob pattern, e.g. 'etl_*'.")
    tags: list[str] = Field(default_factory=list, description="The DAG has at least one of these tags.")
    owners: list[str] = Field(default_factory=list, description="The DAG has at least one of these owners.")

    def matches(self, dag_id: str, tags: list[str], owners: list[str]) -> bool:
        if self.dag_id is not None and not fnmatchcase(dag_id, self.dag_id):
            return False
        if self.tags and not set(self.tags) & set(tags):
            return False
        return not (self.owners and not set(self.owners) & set(owners))


class RouteSettings(DagMatch):
    """Alerts of matching DAGs go to ``channels`` (all matching routes add up)."""

    channels: list[str] = Field(min_length=1, description="Channel names, keys of alerts.channels.")
    events: list[Event] | None = Field(None, description="Only these events (default: alerts.events).")


class SlaSettings(DagMatch):
    """An SLA: the DAG run must finish ``within`` the duration after ``after``. First matching rule wins."""

    within: Duration = Field(description="How long a run may take, e.g. 30m.")
    after: Literal["queued_at", "logical_date"] = Field(
        "queued_at", description="Reference time: when the run was queued, or its logical date.")

    @field_validator("within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be longer than 0s")
        return value


class DigestSettings(Section):
    """Storm protection: more than ``threshold`` alerts in ``window`` on one channel become one summary."""

    threshold: int = Field(10, ge=1, le=10000, description="Individual messages per channel per window.")
    window: Duration = Field(timedelta(minutes=5), description="The sliding window.")
    gather: Duration = Field(
        timedelta(seconds=20), description="How long a digest collects further alerts before it is sent.")


class DeliverySettings(Section):
    """How alerts are read from Airflow and delivered: polling, retries, timeouts."""

    poll_interval: Duration = Field(timedelta(seconds=5), description="How often Airflow's state is read.")
    overlap: Duration = Field(timedelta(seconds=60),
                              description="Re-read window behind the cursor (late commits are not missed).")
    initial_lookback: Duration = Field(timedelta(minutes=10),
                                       description="How far back the very first start looks.")
    retry_initial: Duration = Field(timedelta(seconds=5), description="First retry delay (doubles each try).")
    retry_max: Duration = Field(timedelta(minutes=5), description="Longest retry delay.")
    max_age: Duration = Field(timedelta(hours=24),
                              description="An alert not delivered after this long is dead-lettered.")
    timeout: Duration = Field(timedelta(seconds=15), description="Timeout of one Slack or SMTP request.")
    concurrency: int = Field(4, ge=1, le=64, description="Deliveries in flight at once.")
    log_lines: int = Field(12, ge=0, le=200, description="Last log lines of the error quoted in a message.")
    retention: Duration = Field(
        timedelta(days=30),
        description="Delivered, dead-lettered, digested and suppressed alerts older than this are deleted from "
                    "the outbox (the newest alert of each broken DAG file is kept).")

    @model_validator(mode="after")
    def _retention_covers_rereads(self) -> DeliverySettings:
        floor = max(self.initial_lookback + self.overlap, timedelta(hours=1))
        if self.retention < floor:
            raise ValueError(f"retention: must be at least initial_lookback + overlap and 1h "
                             f"({int(floor.total_seconds())}s here): a row deleted sooner could be detected "
                             "and sent again")
        return self


class DispatcherSettings(Section):
    """The alert-dispatcher's own HTTP endpoints."""

    host: str = Field("127.0.0.1", description="Address of /healthz, /metrics and /nudge.")
    port: Port = Field(9465, description="Port of /healthz, /metrics (Prometheus) and /nudge.")


class AlertsSettings(Section):
    """Failure and SLA alerts by email and Slack."""

    channels: dict[str, ChannelSettings] = Field(
        default_factory=dict, description="Named destinations; no channels means no alert-dispatcher.")
    routes: list[RouteSettings] = Field(default_factory=list, description="Routing rules by tag, owner, dag_id.")
    default_channels: list[str] = Field(
        default_factory=list, description="Channels for alerts that match no route (default: every channel).")
    events: list[Event] = Field(
        default_factory=lambda: list[Event](["task_failed", "dag_run_failed", "sla_missed", "dag_import_error"]),
        description="Events that alert: " + ", ".join(EVENTS) + " (a fixed dag_import_error always sends "
                    "its own recovered).")
    slas: list[SlaSettings] = Field(default_factory=list, description="SLAs as Airflow Deadline Alerts.")
    digest: DigestSettings = Field(default_factory=DigestSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, ChannelSettings]) -> dict[str, ChannelSettings]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_.-]{1,64}$", name):
                raise ValueError(f"channel name {name!r}: use letters, digits, _ . - (at most 64)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _grafana_url_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "grafana_url" in data:
            raise ValueError("grafana_url moved to observability.grafana_url (one Grafana for dashboards and "
                             "alert links); write it there")
        return data

    @model_validator(mode="after")
    def _known_channels(self) -> AlertsSettings:
        known = sorted(self.channels)
        refs = [(f"routes.{i}.channels.{j}", name) for i, route in enumerate(self.routes)
                for j, name in enumerate(route.channels)]
        refs += [(f"default_channels.{j}", name) for j, name in enumerate(self.default_channels)]
        for where, name in refs:
            if name not in self.channels:
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = (f"did you mean {close[0]!r}?" if close else
                        ("defined channels: " + ", ".join(known)) if known else "no channels are defined")
                raise ValueError(f"{where}: unknown channel {name!r} ({hint})")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.channels)
