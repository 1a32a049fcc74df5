"""Plain result rows for large reads (the reports'): the driver's own tuples or records, no ``Row`` objects.

A report by agent and day over a year reads tens of thousands of rows, and at ten million calls hundreds of
thousands of packed talk rows; building a SQLAlchemy ``Row`` for each cost about as much as running the query.
The statement is compiled by SQLAlchemy as usual and its parameters go through the same bind processors
SQLAlchemy would apply (UTC datetimes as stored text on SQLite); only the result rows are left as the driver
returns them, so select plain columns (text, integers, floats, bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler


async def fetch_plain(session: AsyncSession, stmt: ClauseElement) -> Sequence[Sequence[Any]]:
    """All rows of ``stmt`` in the caller's transaction, as the driver returns them."""
    dialect = session.get_bind().dialect
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    if not isinstance(compiled, SQLCompiler):
        raise TypeError("not a SQL statement")
    params = compiled.construct_params()
    args = []
    for name in compiled.positiontup or ():
        value = params[name]
        bind = compiled.binds.get(name)
        process = bind.type.bind_processor(dialect) if bind is not None else None
        args.append(process(value) if process is not None and value is not None else value)
    conn = await (await session.connection()).get_raw_connection()
    driver = conn.driver_connection
    if driver is None:
        raise RuntimeError("no DBAPI connection")
    if dialect.name == "postgresql":
        rows: Sequence[Sequence[Any]] = await driver.fetch(str(compiled), *args)
        return rows
    cursor = await driver.execute(str(compiled), args)
    try:
        return list(await cursor.fetchall())
    finally:
        await cursor.close()
