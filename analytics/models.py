"""Rollup tables: per UTC hour and call dimensions, summed call measures; and the dirty-hour marks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Float, Index, Integer, LargeBinary, String, Table

from analytics.metrics import END_REASONS, OUTCOMES
from db.base import Base, UTCDateTime

DIM_COLUMNS = ("agent_id", "team", "client_id", "batch_id", "number_kind", "direction")
COUNT_COLUMNS = (
    "attempts", "connected", "in_progress", *END_REASONS, "invalid_number", *(f"o_{o}" for o in OUTCOMES),
    "talk_n", "tta_n",
)
SUM_COLUMNS = ("talk_sum", "tta_sum")
MEASURE_COLUMNS = COUNT_COLUMNS + SUM_COLUMNS

rollup = Table(
    "call_rollup_hourly", Base.metadata,
    Column("hour", BigInteger, primary_key=True, comment="UTC hours since 1970-01-01 of calls.created_at"),
    *(Column(d, String(64), primary_key=True, default="") for d in DIM_COLUMNS),
    *(Column(c, Integer, nullable=False, default=0) for c in COUNT_COLUMNS),
    *(Column(c, Float, nullable=False, default=0.0) for c in SUM_COLUMNS),
    comment="Exact sums of calls per UTC hour and dimensions, for every hour absent from call_rollup_dirty.",
    sqlite_with_rowid=False,
)

talk_hist = Table(
    "call_talk_hourly", Base.metadata,
    Column("hour", BigInteger, primary_key=True, comment="UTC hours since 1970-01-01 of calls.created_at"),
    *(Column(d, String(64), primary_key=True, default="") for d in DIM_COLUMNS),
    Column("sec", Integer, primary_key=True, comment="talk seconds rounded half up to a whole second"),
    Column("n", Integer, nullable=False),
    comment="Sparse 1-second talk-time histogram of connected calls per UTC hour and dimensions (exact "
            "percentiles); kept with call_rollup_hourly, same dirty hours.",
    sqlite_with_rowid=False,
)
# reports filtered by agent or client (the primary keys lead with the hour, for ranges of time)
FILTER_INDEXES = tuple(
    Index(f"ix_{t.name}_{d}_hour", t.c[d], t.c.hour) for t in (rollup, talk_hist) for d in ("agent_id", "client_id"))

zones = Table(
    "call_rollup_zones", Base.metadata,
    Column("zone", String(64), primary_key=True, comment="IANA zone whose offset is always a whole hour"),
    Column("built_at", UTCDateTime(), nullable=True, comment="NULL until the zone's daily rows are complete"),
    comment="Zones with a daily rollup (call_rollup_daily / call_talk_daily); shared by every instance.",
)

rollup_daily = Table(
    "call_rollup_daily", Base.metadata,
    Column("zone", String(64), primary_key=True),
    Column("day", Integer, primary_key=True, comment="local days since 1970-01-01 in the row's zone"),
    *(Column(d, String(64), primary_key=True, default="") for d in DIM_COLUMNS),
    *(Column(c, Integer, nullable=False, default=0) for c in COUNT_COLUMNS),
    *(Column(c, Float, nullable=False, default=0.0) for c in SUM_COLUMNS),
    comment="call_rollup_hourly summed per local day of a zone in call_rollup_zones; a day is exact when "
            "none of its hours is in call_rollup_dirty.",
    sqlite_with_rowid=False,
)

# Talk seconds are packed at two grains (each a set of dimensions; the other dimensions are ''): by agent,
# team, client and batch (number kind left out: it would triple the rows, one per kind for each agent and
# day), and by client and number kind. A report uses the smallest grain holding every dimension it groups or
# filters by, or the hourly histogram when none does.
TALK_GRAINS: dict[int, tuple[str, ...]] = {
    0: ("agent_id", "team", "client_id", "batch_id"),
    1: ("client_id", "number_kind"),
}
talk_daily = Table(
    "call_talk_daily", Base.metadata,
    Column("zone", String(64), primary_key=True),
    Column("grain", Integer, primary_key=True, comment="which dimensions the row is keyed by (TALK_GRAINS)"),
    Column("day", Integer, primary_key=True, comment="local days since 1970-01-01 in the row's zone"),
    *(Column(d, String(64), primary_key=True, default="") for d in DIM_COLUMNS),
    Column("n", Integer, nullable=False, comment="connected calls with a talk time"),
    Column("secs", LargeBinary, nullable=False,
           comment="their talk seconds (rounded half up), sorted, little-endian uint32, repeated per call"),
    comment="Talk seconds per local day of a zone and the dimensions of a grain, for exact percentiles "
            "without a row per second; kept with call_rollup_daily.",
    sqlite_with_rowid=False,
)

dirty = Table(
    "call_rollup_dirty", Base.metadata,
    Column("hour", BigInteger, primary_key=True),
    Column("gen", Integer, nullable=False, default=1),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    comment="UTC hours whose calls changed since they were rolled up (set by triggers on calls).",
)


def hour_start(hour: int) -> datetime:
    """The aware UTC start of an epoch hour."""
    return datetime.fromtimestamp(hour * 3600, UTC)


def epoch_hour(at: datetime) -> int:
    """The epoch hour (UTC hours since 1970) containing ``at``."""
    return int(at.timestamp() // 3600)
