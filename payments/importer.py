"""Parse a bank's payments file (CSV or XLSX) into payment items, row by row (pure, no DB; blocking: run it in
an executor). The file is read like a case batch (``cases.importer.read_table``: encodings, caps, XLSX through
defusedxml); each row becomes the item ``POST /v1/clients/{client}/payments`` takes, and the payment service
validates it, so a bad row is reported by line and never stops the others.

========================  =====================================  ===========================================
column                    Chinese aliases                        meaning
========================  =====================================  ===========================================
payment_id *              还款流水号, 流水号, 交易流水号         the bank's id of the payment (idempotency)
case_external_id *        案件号, 案件编号, 委案编号             the case's external id
amount *                  还款金额, 金额                         decimal > 0
currency                  币种                                   ISO 4217; default ``default_currency``
paid_at *                 还款时间, 还款日期, 交易时间           ISO 8601 or a date; naive values are read in
                                                                 ``file_timezone``
========================  =====================================  ===========================================
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cases.importer import ImportFileError, cell_amount, cell_text, cell_timestamp, read_table

ALIASES = {
    "payment_id": ("payment_id", "还款流水号", "流水号", "交易流水号"),
    "case_external_id": ("case_external_id", "external_id", "案件号", "案件编号", "委案编号"),
    "amount": ("amount", "还款金额", "金额"),
    "currency": ("currency", "币种"),
    "paid_at": ("paid_at", "还款时间", "还款日期", "交易时间"),
}
REQUIRED = ("payment_id", "case_external_id", "amount", "paid_at")
_HEADER = {alias: name for name, aliases in ALIASES.items() for alias in aliases}


def parse_payments(path: str | Path, *, default_currency: str = "CNY", file_timezone: str = "Asia/Shanghai",
                   max_rows: int, max_bytes: int) -> list[tuple[int, dict[str, Any]]]:
    """(line, payment item) for every data row; ImportFileError for a file that cannot be read as a whole."""
    try:
        zone = ZoneInfo(file_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportFileError(f"unknown file_timezone {file_timezone!r}") from exc
    rows = read_table(path, max_rows=max_rows, max_bytes=max_bytes)
    if not rows:
        raise ImportFileError("file has no header row")
    header_line, header = rows[0]
    columns = [_HEADER.get(str(h or "").strip().lstrip("\ufeff").lower(), "") for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ImportFileError("required columns missing", details={"missing": missing, "line": header_line})
    out = []
    for line, values in rows[1:]:
        cells = {col: values[i] for i, col in enumerate(columns) if col and i < len(values)}
        paid_at = cell_timestamp(cells.get("paid_at"), zone)
        out.append((line, {
            "payment_id": cell_text(cells.get("payment_id")),
            "case_external_id": cell_text(cells.get("case_external_id")),
            "amount": str(v) if (v := cell_amount(cells.get("amount"))) is not None else None,
            "currency": cell_text(cells.get("currency")) or default_currency,
            "paid_at": paid_at.isoformat() if isinstance(paid_at, datetime) else paid_at}))
    return out
