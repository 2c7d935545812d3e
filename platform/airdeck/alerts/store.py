"""The durable outbox: one row per (alert, channel), in the platform's PostgreSQL.

Tables are prefixed ``airdeck_alert_`` so they never collide with Airflow's own. The unique
``(key_hash, channel)`` constraint is the idempotency guarantee: an alert that is detected twice
(overlapping polls, a restart, a callback and a poll) is inserted once. ``key_hash`` is the SHA-256
of the readable ``idem_key`` (``event|dag|run|task|map|try``, unbounded text), so no length of
Airflow's ids (dag_id, task_id and run_id up to 250 characters each, in their own columns sized
like Airflow's) can overflow the key. :meth:`Outbox.create` upgrades an outbox of an older airdeck
in place, keeping every row (see :func:`_upgrade_to_v2`).

States::

    queued ──claim──► sending ──ok──► sent
       ▲                 │
       └──── retry ◄─────┤ error (next_attempt_at = now + backoff)
                         └─ older than max_age ──► dead
    queued ──storm──► digested (folded into a digest row, which is itself a row of kind 'digest')
    queued ──a task alert already covers this run──► suppressed
    sending ──claimed longer ago than a delivery can take──► queued (a dispatcher died mid-send)
    sent / dead / digested / suppressed ──older than alerts.delivery.retention──► deleted (prune)

:func:`read_outbox` is the read-only view ``airdeck alerts list`` shows.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
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
    delete,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError

from airdeck.errors import AirdeckError
from airdeck.plan.secrets import mask_url

log = logging.getLogger("airdeck.alerts.store")

STATES = ("queued", "sending", "sent", "dead", "digested", "suppressed")
#: States a row never leaves: what :meth:`Outbox.prune` may delete once older than the retention.
FINAL_STATES = ("sent", "dead", "digested", "suppressed")
#: Airflow's own limit of dag_id, task_id and run_id (``airflow.models.base.ID_LEN``).
ID_LEN = 250
#: pg_advisory_xact_lock key of the schema creation/upgrade (two dispatchers starting at once).
_SCHEMA_LOCK = 0x61697264_6B6F7862  # "airdkoxb"

metadata = MetaData()

outbox = Table(
    "airdeck_alert_outbox", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False),  # sha256(idem_key), hex
    Column("idem_key", Text, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("kind", String(16), nullable=False, default="alert"),  # alert | digest | test
    Column("event", String(32), nullable=False),
    Column("dag_id", String(ID_LEN)),
    Column("run_id", String(ID_LEN)),
    Column("task_id", String(ID_LEN)),
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
    Column("claimed_at", DateTime(timezone=True)),  # when the row went to 'sending'
    UniqueConstraint("key_hash", "channel", name="airdeck_alert_outbox_key_uq"),
)

cursors = Table(
    "airdeck_alert_cursor", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def key_hash(idem_key: str) -> str:
    """The fixed-length form of an idempotency key (64 hex digits; PostgreSQL's sha256() gives the same)."""
    return hashlib.sha256(idem_key.encode("utf-8", "surrogatepass")).hexdigest()


def _upgrade_to_v2(conn: Connection) -> None:
    """Outbox of airdeck before issue 13 → now, in one transaction, keeping every row.

    The old unique key was ``(idem_key VARCHAR(500), channel)``: a long dag_id and task_id overflowed
    it and made every poll fail. Now ``idem_key`` is unbounded text and uniqueness is on its SHA-256."""
    for statement in (
        "ALTER TABLE airdeck_alert_outbox ALTER COLUMN idem_key TYPE TEXT",
        "ALTER TABLE airdeck_alert_outbox ADD COLUMN IF NOT EXISTS key_hash VARCHAR(64)",
        "ALTER TABLE airdeck_alert_outbox ADD COLUMN IF NOT EXISTS claimed_at TIMESTAMP WITH TIME ZONE",
        "UPDATE airdeck_alert_outbox SET key_hash = encode(sha256(convert_to(idem_key, 'UTF8')), 'hex') "
        "WHERE key_hash IS NULL",
        "ALTER TABLE airdeck_alert_outbox ALTER COLUMN key_hash SET NOT NULL",
        "ALTER TABLE airdeck_alert_outbox DROP CONSTRAINT IF EXISTS airdeck_alert_outbox_idem_uq",
        "ALTER TABLE airdeck_alert_outbox ADD CONSTRAINT airdeck_alert_outbox_key_uq UNIQUE (key_hash, channel)",
    ):
        conn.execute(text(statement))
    log.info("upgraded the alert outbox to schema 2 (hashed idempotency keys); every row kept")


class ItemRejected(Exception):
    """The database refused one alert (its data, not the database being down); the others are stored."""


def engine_for(url: str) -> Engine:
    """The outbox's engine. psycopg 3 never prepares statements on the server here: the same code runs
    behind PgBouncer's transaction pooling (pgbouncer.enabled), where a prepared statement would be
    looked up on another server connection."""
    args: dict[str, object] = {"prepare_threshold": None} if make_url(url).get_driver_name() == "psycopg" else {}
    return create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True, future=True, connect_args=args)


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
    key_hash: str = ""
    claimed_at: datetime | None = None
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
        self._columns = list(outbox.c)  # what rows() reads (fewer for an outbox not upgraded yet)

    @classmethod
    def connect(cls, url: str) -> Outbox:
        box = cls(engine_for(url))
        box.create()
        return box

    def create(self) -> None:
        """Create the tables, or upgrade an older airdeck's outbox in place (serialised by an advisory lock)."""
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            inspector = inspect(conn)
            if inspector.has_table(outbox.name):
                columns = {c["name"] for c in inspector.get_columns(outbox.name)}
                if "key_hash" not in columns or "claimed_at" not in columns:
                    _upgrade_to_v2(conn)
            metadata.create_all(conn, checkfirst=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ writing
    def enqueue(self, alerts: Iterable[NewAlert], now: datetime | None = None,
                on_reject: Callable[[NewAlert, ItemRejected], None] | None = None) -> list[NewAlert]:
        """Insert alerts that are not there yet; returns those actually inserted.

        Each alert is inserted in its own savepoint: one the database refuses (bad data) is passed to
        ``on_reject`` (default: logged) and the others are stored. A database that is down or
        unreachable still raises, for the caller to retry the whole batch."""
        now = now or utcnow()
        inserted: list[NewAlert] = []
        with self.engine.begin() as conn:
            for alert in alerts:
                stmt = pg_insert(outbox).values(
                    key_hash=key_hash(alert.idem_key), idem_key=alert.idem_key, channel=alert.channel,
                    kind=alert.kind, event=alert.event, dag_id=alert.dag_id, run_id=alert.run_id,
                    task_id=alert.task_id, map_index=alert.map_index, try_number=alert.try_number,
                    payload=alert.payload, state="queued", attempts=0, occurred_at=alert.occurred_at,
                    created_at=now, next_attempt_at=alert.not_before or now,
                ).on_conflict_do_nothing(constraint="airdeck_alert_outbox_key_uq").returning(outbox.c.id)
                try:
                    with conn.begin_nested():
                        stored = conn.execute(stmt).first() is not None
                except StatementError as exc:
                    if isinstance(exc, OperationalError | InterfaceError) or getattr(exc, "connection_invalidated",
                                                                                     False):
                        raise
                    reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
                    rejected = ItemRejected(f"{type(exc.orig or exc).__name__}: {reason[0] if reason else ''}"[:500])
                    (on_reject or _log_reject)(alert, rejected)
                    continue
                if stored:
                    inserted.append(alert)
        return inserted

    def known_keys(self, idem_keys: Sequence[str]) -> set[str]:
        """Those of ``idem_keys`` that have a row (any channel, any state)."""
        by_hash = {key_hash(k): k for k in idem_keys}
        found: set[str] = set()
        hashes = list(by_hash)
        with self.engine.connect() as conn:
            for start in range(0, len(hashes), 500):
                query = select(outbox.c.key_hash).where(outbox.c.key_hash.in_(hashes[start:start + 500])).distinct()
                found |= {by_hash[r[0]] for r in conn.execute(query)}
        return found

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
            rows = conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(state="sending", claimed_at=now)
                                .returning(*outbox.c)).mappings().all()
        return sorted((Row.of(r) for r in rows), key=lambda r: (r.occurred_at, r.id))

    def release(self, rows: Sequence[Row]) -> None:
        """Put claimed rows back untouched (e.g. held for a digest); rows already sent or dead stay so."""
        if rows:
            with self.engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows]), outbox.c.state == "sending")
                             .values(state="queued"))

    def requeue_stale(self, claimed_before: datetime) -> int:
        """Rows in 'sending' claimed before ``claimed_before`` (their dispatcher died or lost them) → queued."""
        with self.engine.begin() as conn:
            result = conn.execute(update(outbox).where(outbox.c.state == "sending",
                                                       func.coalesce(outbox.c.claimed_at, outbox.c.created_at)
                                                       < claimed_before).values(state="queued"))
            return int(result.rowcount or 0)

    def prune(self, older_than: datetime, batch: int = 5000) -> int:
        """Delete finished rows (sent, dead, digested, suppressed) created before ``older_than``.

        The newest import-error or recovered row of each DAG file is kept whatever its age: it is what
        tells a later poll that a file which alerted has been fixed. Deletes in batches so no long
        lock is held; returns the number of rows deleted."""
        keep = [r.id for r in self.latest_import_alerts()]
        total = 0
        while True:
            doomed = (select(outbox.c.id).where(outbox.c.state.in_(FINAL_STATES), outbox.c.created_at < older_than)
                      .order_by(outbox.c.id).limit(batch))
            if keep:
                doomed = doomed.where(outbox.c.id.not_in(keep))
            with self.engine.begin() as conn:
                deleted = int(conn.execute(delete(outbox).where(outbox.c.id.in_(doomed.scalar_subquery())))
                              .rowcount or 0)
            total += deleted
            if deleted < batch:
                return total

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
        query = select(*self._columns).order_by(outbox.c.id.desc()).limit(limit)
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


def _log_reject(alert: NewAlert, error: ItemRejected) -> None:
    log.error("alert %s to %s not stored: %s", alert.idem_key[:300], alert.channel, error)


def backoff(attempts: int, initial: timedelta, maximum: timedelta) -> timedelta:
    """Exponential backoff: initial, 2×, 4×, … capped at ``maximum``, for any number of attempts.

    The exponent is bounded before it is used (2**62 × initial is beyond any maximum), so a row that
    failed thousands of times gets ``maximum`` instead of an OverflowError."""
    exponent = min(max(0, attempts - 1), 62)
    seconds = initial.total_seconds() * float(2 ** exponent)
    return min(timedelta(seconds=min(seconds, maximum.total_seconds())), maximum)


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
            inspector = inspect(conn)
            present = inspector.has_table(outbox.name)
            columns = {c["name"] for c in inspector.get_columns(outbox.name)} if present else set()
        if not present:
            return OutboxListing([], dict.fromkeys(STATES, 0))
        box = Outbox(engine)
        # An outbox of an older airdeck (the dispatcher upgrades it when it starts) lacks the newer columns.
        box._columns = [c for c in outbox.c if c.name in columns]
        return OutboxListing(box.rows(state, limit, channel), box.counts())
    except DBAPIError as exc:
        reason = (str(exc.orig).strip().splitlines() or [""])[0] if exc.orig else type(exc).__name__
        raise OutboxUnavailable(f"cannot read the alert outbox in the metadata database {mask_url(url)}: "
                                f"{reason}; is the platform running (`airdeck status`)?") from None
    finally:
        engine.dispose()
