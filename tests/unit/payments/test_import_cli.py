"""``callguard import-payments`` on SQLite and PostgreSQL: a bank's CSV with Chinese headers, naive local times,
bad rows reported by line without stopping the good ones, and a second import that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cases.rows import CaseIn
from cases.service import upsert_case
from core.events import EventLog
from db.engine import Database
from payments.cli import build_parser, run_import
from payments.models import Payment

CSV = """还款流水号,案件号,还款金额,还款时间
PAY-1,C-1,"1,200.50",2026-12-07 10:15
PAY-2,C-1,abc,2026-12-07 11:00
PAY-3,NOPE,10,2026-12-07 12:00
PAY-4,C-1,99,2026-12-08
"""


async def test_a_payments_file_is_imported_once_with_its_bad_rows_reported(
        db: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with db.begin() as s:
        await upsert_case(s, EventLog(), client_id="bank1", now=datetime.now(UTC), by="t", data=CaseIn.model_validate(
            {"external_id": "C-1", "debtor_name": "D", "amount": "5000", "currency": "CNY", "contacts": []}))
    path = tmp_path / "payments.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    args = build_parser().parse_args([str(path), "--client", "bank1", "--database-url", database_url])
    assert await run_import(args) == 3
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("line 3: amount: invalid: ")
    assert lines[1] == "line 4: case_external_id: no-such-case: no such case of this client"
    assert "created 2, unchanged 0, bad rows 2" in err
    async with db.read() as s:
        rows = (await s.scalars(select(Payment).order_by(Payment.external_id))).all()
    assert [(p.external_id, f"{p.amount:.2f}", p.currency, p.paid_at) for p in rows] == [
        ("PAY-1", "1200.50", "CNY", datetime(2026, 12, 7, 2, 15, tzinfo=UTC)),  # 10:15 in Shanghai
        ("PAY-4", "99.00", "CNY", datetime(2026, 12, 7, 16, 0, tzinfo=UTC))]
    assert await run_import(args) == 3
    assert "created 0, unchanged 2, bad rows 2" in capsys.readouterr().err


async def test_a_file_without_the_required_columns_is_refused_whole(tmp_path: Path, database_url: str,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "payments.csv"
    path.write_text("案件号,还款金额\nC-1,10\n", encoding="utf-8")
    args = build_parser().parse_args([str(path), "--client", "bank1", "--database-url", database_url])
    assert await run_import(args) == 1
    assert "required columns missing" in capsys.readouterr().err
