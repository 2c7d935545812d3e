"""The durable outbox: one row per (alert, channel), in the platform's PostgreSQL.

Tables are prefixed ``airdeck_alert_`` so they never collide with Airflow's own. The unique
``(idem_key, channel)`` constraint is the idempotency guarantee: an alert that is detected twice
(overlapping polls, a restart, a callback and a poll) is inserted once.

States::

    queued ──claim──► sending ──ok──► sent
       ▲                 │
       └──── retry ◄─────┤ error (next_attempt_at = now + backoff)
                         └─ older than max_age ──► dead
    queued ──storm──► digested (folded into a digest row, which is itself a row of kind 'digest')
    queued ──a task alert already covers this run──► suppressed

:func:`read_outbox` is the read-only view ``airdeck alerts list`` shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from airdeck.errors import AirdeckError
from airdeck.plan.secrets import mask_url

STATES = ("queued", "sending", "sent", "dead", "digested", "suppressed")

metadata = MetaData()

outbox = Table(
    "airdeck_alert_outbox", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("idem_key", String(500), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("kind", String(16), nullable=False, default="alert"),  # alert | digest | test
    Column("event", String(32), nullable=False),
    Column("dag_id", String(250)),
    Column("run_id", String(250)),
    Column("task_id", String(250)),
    Column("map_index", Integer, nullable=False, default=-1),
    Column("try_number", Integer),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False, default="queued", index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("digest_id", BigInteger),
    UniqueConstraint("idem_key", "channel", name="airdeck_alert_outbox_idem_uq"),
)

cursors = Table(
    "airdeck_alert_cursor", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def engine_for(url: str) -> Engine:
    return create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True, future=True)


@dataclass
class NewAlert:
    """An alert to queue for one channel."""

    idem_key: str
    channel: str
    event: str
    occurred_at: datetime
    payload: dict[str, Any]
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int = -1
    try_number: int | None = None
    kind: str = "alert"
    not_before: datetime | None = None


@dataclass
class Row:
    id: int
    idem_key: str
    channel: str
    kind: str
    event: str
    dag_id: str | None
    run_id: str | None
    task_id: str | None
    map_index: int
    try_number: int | None
    payload: dict[str, Any]
    state: str
    attempts: int
    occurred_at: datetime
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    digest_id: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, mapping: Any) -> Row:
        data = dict(mapping)
        payload = data["payload"]
        if isinstance(payload, str):
            data["payload"] = json.loads(payload)
        return cls(**data)


class Outbox:
    """All reads and writes of the outbox and the poll cursors."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def connect(cls, url: str) -> Outbox:
        box = cls(engine_for(url))
        box.create()
        return box

    def create(self) -> None:
        metadata.create_all(self.engine, checkfirst=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ writing
    def enqueue(self, alerts: Iterable[NewAlert], now: datetime | None = None) -> list[NewAlert]:
        """Insert alerts that are not there yet; returns those actually inserted."""
        now = now or utcnow()
        inserted: list[NewAlert] = []
        with self.engine.begin() as conn:
            for alert in alerts:
                stmt = pg_insert(outbox).values(
                    idem_key=alert.idem_key, channel=alert.channel, kind=alert.kind, event=alert.event,
                    dag_id=alert.dag_id, run_id=alert.run_id, task_id=alert.task_id, map_index=alert.map_index,
                    try_number=alert.try_number, payload=alert.payload, state="queued", attempts=0,
                    occurred_at=alert.occurred_at, created_at=now, next_attempt_at=alert.not_before or now,
                ).on_conflict_do_nothing(constraint="airdeck_alert_outbox_idem_uq").returning(outbox.c.id)
                if conn.execute(stmt).first() is not None:
                    inserted.append(alert)
        return inserted

    def recover_in_flight(self) -> int:
        """After a restart: rows left in 'sending' by a dispatcher that died go back to the queue."""
        with self.engine.begin() as conn:
            result = conn.execute(update(outbox).where(outbox.c.state == "sending").values(state="queued"))
            return int(result.rowcount or 0)

    def claim_due(self, channel: str, limit: int, now: datetime | None = None) -> list[Row]:
        """Queued rows of one channel whose time has come, marked 'sending' (SKIP LOCKED: safe with two dispatchers)."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(
                select(outbox.c.id).where(outbox.c.channel == channel, outbox.c.state == "queued",
                                          outbox.c.next_attempt_at <= now)
                .order_by(outbox.c.occurred_at, outbox.c.id).limit(limit).with_for_update(skip_locked=True))]
            if not ids:
                return []
            rows = conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(state="sending")
                                .returning(*outbox.c)).mappings().all()
        return sorted((Row.of(r) for r in rows), key=lambda r: (r.occurred_at, r.id))

    def release(self, rows: Sequence[Row]) -> None:
        """Put claimed rows back untouched (e.g. held for a digest)."""
        if rows:
            with self.engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows])).values(state="queued"))

    def mark_sent(self, row_id: int, now: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row_id)
                         .values(state="sent", sent_at=now or utcnow(), attempts=outbox.c.attempts + 1,
                                 last_error=None))

    def mark_retry(self, row_id: int, error: str, next_attempt_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row_id)
                         .values(state="queued", attempts=outbox.c.attempts + 1, last_error=error[:2000],
                                 next_attempt_at=next_attempt_at))

    def mark_dead(self, row_id: int, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row_id)
                         .values(state="dead", last_error=error[:2000]))

    def mark_state(self, row_ids: Sequence[int], state: str, digest_id: int | None = None) -> None:
        if row_ids:
            with self.engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id.in_(list(row_ids)))
                             .values(state=state, digest_id=digest_id))

    # ------------------------------------------------------------------ reading
    def sent_since(self, channel: str, since: datetime) -> int:
        """Messages (alerts and digests) delivered or in flight on a channel since ``since``."""
        with self.engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(outbox).where(
                    outbox.c.channel == channel, outbox.c.kind.in_(["alert", "digest"]),
                    outbox.c.state.in_(["sent", "sending"]), outbox.c.sent_at >= since)).scalar_one())

    def covered_by_task_alert(self, channel: str, dag_id: str, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(outbox.c.id).where(
                outbox.c.channel == channel, outbox.c.dag_id == dag_id, outbox.c.run_id == run_id,
                outbox.c.event == "task_failed").limit(1)).first() is not None

    def last_event(self, dag_id: str, events: Sequence[str]) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.dag_id == dag_id, outbox.c.event.in_(list(events)))
                               .order_by(outbox.c.occurred_at.desc(), outbox.c.id.desc()).limit(1)).mappings().first()
        return Row.of(row) if row else None

    def latest_import_alerts(self) -> list[Row]:
        """Per broken file (bundle and file in the payload), its latest import-error or recovered alert."""
        query = (select(outbox).where(outbox.c.kind == "alert", outbox.c.event.in_(["dag_import_error", "recovered"]))
                 .order_by(outbox.c.id))
        latest: dict[tuple[str, str], Row] = {}
        with self.engine.connect() as conn:
            for mapping in conn.execute(query).mappings():
                row = Row.of(mapping)
                if row.event == "recovered" and row.payload.get("recovered_from") != "dag_import_error":
                    continue
                latest[(str(row.payload.get("bundle") or ""), str(row.payload.get("file") or ""))] = row
        return list(latest.values())

    def rows(self, state: str | None = None, limit: int = 100, channel: str | None = None) -> list[Row]:
        query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if state:
            query = query.where(outbox.c.state == state)
        if channel:
            query = query.where(outbox.c.channel == channel)
        with self.engine.connect() as conn:
            return [Row.of(r) for r in conn.execute(query).mappings()]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            found = {state: int(n) for state, n in conn.execute(
                select(outbox.c.state, func.count()).group_by(outbox.c.state))}
        return {state: found.get(state, 0) for state in STATES}

    def oldest_pending(self) -> datetime | None:
        """When the oldest alert not yet delivered (queued or sending) was queued; None when there is none."""
        with self.engine.connect() as conn:
            value = conn.execute(select(func.min(outbox.c.created_at))
                                 .where(outbox.c.state.in_(("queued", "sending")))).scalar()
        return value if isinstance(value, datetime) else None

    def pending_channels(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(outbox.c.channel).where(outbox.c.state == "queued").distinct())]

    # ------------------------------------------------------------------ cursors
    def cursor(self, name: str, default: datetime) -> datetime:
        with self.engine.connect() as conn:
            value = conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar()
        return value if value is not None else default

    def set_cursor(self, name: str, value: datetime) -> None:
        stmt = pg_insert(cursors).values(name=name, value=value, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(index_elements=[cursors.c.name],
                                          set_={"value": value, "updated_at": utcnow()})
        with self.engine.begin() as conn:
            conn.execute(stmt)


def backoff(attempts: int, initial: timedelta, maximum: timedelta) -> timedelta:
    """Exponential backoff: initial, 2×, 4×, … capped at ``maximum``."""
    seconds = initial.total_seconds() * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, maximum.total_seconds()))


class OutboxUnavailable(AirdeckError):
    """The outbox cannot be read: the metadata database is down, unreachable or refuses the platform."""


@dataclass(frozen=True)
class OutboxListing:
    """The newest rows of the outbox (as asked) and how many rows are in each state."""

    rows: list[Row]
    counts: dict[str, int]


def read_outbox(url: str, *, state: str | None = None, limit: int = 50, channel: str | None = None) -> OutboxListing:
    """Read the outbox without changing anything (a database the dispatcher never used holds no rows).

    Raises :class:`OutboxUnavailable` naming the database (password masked) when it cannot be read."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            present = inspect(conn).has_table(outbox.name)
        if not present:
            return OutboxListing([], dict.fromkeys(STATES, 0))
        box = Outbox(engine)
        return OutboxListing(box.rows(state, limit, channel), box.counts())
    except DBAPIError as exc:
        reason = (str(exc.orig).strip().splitlines() or [""])[0] if exc.orig else type(exc).__name__
        raise OutboxUnavailable(f"cannot read the alert outbox in the metadata database {mask_url(url)}: "
                                f"{reason}; is the platform running (`airdeck status`)?") from None
    finally:
        engine.dispose()
