"""Parse a bank's case batch file (CSV or XLSX) into validated cases, row by row (pure, no DB).

Blocking (reads the file): call it from an executor. File-level problems (unknown format, undecodable
text, missing required columns) raise :class:`ImportFileError` (422) before any row is yielded, a file
over ``max_bytes`` (an XLSX also unpacked) or ``max_rows`` raises :class:`ImportTooLarge` (413);
row-level problems yield a :class:`BadRow` and never stop the other rows.

XLSX is parsed by openpyxl through defusedxml (a dependency; openpyxl uses it when it is installed and
``OPENPYXL_DEFUSEDXML`` is not ``False``, which is checked before every XLSX is opened): a workbook whose
XML declares a DTD, entities (billion laughs) or external references (XXE) is refused.

Column layout (first non-empty row is the header; names are case-insensitive, spaces and hyphens count
as underscores; unknown columns are ignored; required columns marked *):

========================  ===========================================  =================================
column                    Chinese aliases                              meaning
========================  ===========================================  =================================
external_id *             案件号, 案件编号, 委案编号                   case id, unique per client
debtor_name *             姓名, 客户姓名, 债务人姓名                   debtor's name
mobile, home, work        手机/手机号/手机号码, 家庭电话/住宅电话,     one number each (E.164 or local to
                          单位电话/工作电话                            ``default_region``)
third_party_number        联系人电话, 第三方电话                       third-party number
third_party_relation      联系人关系, 关系                             required when the number is given
<kind>_status             手机状态, 家庭电话状态, 单位电话状态,        valid | invalid | do_not_call
                          联系人电话状态                               (有效 | 无效 | 勿扰); default valid
amount *                  欠款金额, 金额                               Decimal >= 0
currency                  币种                                         ISO 4217; default ``default_currency``
days_overdue              逾期天数                                     integer >= 0
address, region           地址, 地区/省份
timezone                  时区                                         IANA name, e.g. Asia/Shanghai
status, hold_reason       状态, 暂停原因                               active|on_hold|closed|paid|
                                                                       returned|recalled (正常|暂停|
                                                                       结案|已还款|退案|撤案)
agent, team               催收员, 小组/团队
received_at               委案日期, 接收时间                           ISO 8601 or date; naive values are
                                                                       read in ``file_timezone``
========================  ===========================================  =================================

CSV: UTF-8 with or without BOM, UTF-16 with BOM, otherwise GB18030 (what Chinese bank systems and Excel
on Chinese Windows export); delimiter sniffed among comma, tab and semicolon. Line numbers are physical
lines (CSV) or sheet rows (XLSX), header included. A repeated ``external_id`` makes the later row bad.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import openpyxl
from defusedxml import DefusedXmlException
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from cases.rows import CaseIn
from core.errors import ValidationFailed

DEFAULT_MAX_ROWS = 50_000
MAX_FILE_BYTES = 64 * 1024 * 1024
#: an XLSX is a zip: its parts, unpacked, may be at most this many times ``max_bytes`` (a zip bomb is not)
XLSX_UNPACKED_RATIO = 8

_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("案件号", "案件编号", "委案编号"),
    "debtor_name": ("姓名", "客户姓名", "债务人姓名"),
    "mobile": ("手机", "手机号", "手机号码"),
    "home": ("家庭电话", "住宅电话"),
    "work": ("单位电话", "工作电话"),
    "third_party_number": ("联系人电话", "第三方电话"),
    "third_party_relation": ("联系人关系", "关系"),
    "mobile_status": ("手机状态",),
    "home_status": ("家庭电话状态",),
    "work_status": ("单位电话状态",),
    "third_party_status": ("联系人电话状态",),
    "amount": ("欠款金额", "金额"),
    "currency": ("币种",),
    "days_overdue": ("逾期天数",),
    "address": ("地址",),
    "region": ("地区", "省份"),
    "timezone": ("时区",),
    "status": ("状态",),
    "hold_reason": ("暂停原因",),
    "agent": ("催收员",),
    "team": ("小组", "团队"),
    "received_at": ("委案日期", "接收时间"),
}
_HEADER: dict[str, str] = {name: name for name in _ALIASES}
_HEADER.update({alias: name for name, aliases in _ALIASES.items() for alias in aliases})
REQUIRED_COLUMNS = ("external_id", "debtor_name", "amount")

_NUMBER_COLUMNS = {"mobile": "mobile", "home": "home", "work": "work", "third_party_number": "third_party"}
_CONTACT_STATUS = {"有效": "valid", "无效": "invalid", "勿扰": "do_not_call", "停机": "invalid"}
_CASE_STATUS = {"正常": "active", "暂停": "on_hold", "结案": "closed", "已还款": "paid", "退案": "returned",
                "撤案": "recalled"}


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be imported (format, encoding, header, size)."""

    code = "case-import-bad-file"


class ImportTooLarge(ImportFileError):
    """413: the file is over the byte cap (an XLSX also once unpacked) or the row cap."""

    status = 413
    code = "import-too-large"


@dataclass(frozen=True, slots=True)
class GoodRow:
    """A row that validated into a case."""

    line: int
    case: CaseIn


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that did not validate: ``errors`` are (column or field, reason) pairs."""

    line: int
    errors: list[tuple[str, str]]


RowResult = GoodRow | BadRow


def _header_key(raw: Any) -> str:
    text = "" if raw is None else str(raw).strip().lstrip("\ufeff")
    return _HEADER.get(text) or _HEADER.get(text.lower().replace(" ", "_").replace("-", "_"), "")


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ImportFileError("file is neither UTF-8 nor GB18030 text") from exc


def _csv_rows(path: Path, max_rows: int, max_bytes: int) -> list[tuple[int, list[Any]]]:
    with path.open("rb") as fh:
        data = fh.read(max_bytes + 1)  # never more than the cap, even if the file grew since it was measured
    if len(data) > max_bytes:
        raise ImportTooLarge("the file is too large", details={"max_bytes": max_bytes})
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[Any]]] = []
    start = 1
    try:
        for record in reader:
            rows.append((start, list(record)))
            start = reader.line_num + 1
            if len(rows) > max_rows + 1:
                break
    except csv.Error as exc:
        raise ImportFileError(f"CSV is malformed near line {start}: {exc}") from exc
    return rows


def _defused(exc: BaseException) -> DefusedXmlException | None:
    """The defusedxml refusal behind ``exc`` (openpyxl wraps it in a ValueError), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _unsafe_xml(exc: DefusedXmlException) -> ImportFileError:
    return ImportFileError("the workbook's XML declares a DTD, entities or external references; refused",
                           code="case-import-unsafe-xml", details={"reason": type(exc).__name__})


def _xlsx_rows(path: Path, max_rows: int, max_bytes: int) -> list[tuple[int, list[Any]]]:
    if openpyxl.DEFUSEDXML is not True:  # e.g. OPENPYXL_DEFUSEDXML=False in the environment
        raise ImportFileError("XLSX import is disabled: openpyxl is not parsing through defusedxml",
                              code="case-import-xlsx-unsafe-parser")
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError("not a readable XLSX workbook") from exc
    if unpacked > max_bytes * XLSX_UNPACKED_RATIO:
        raise ImportTooLarge("the workbook is too large once unpacked",
                             details={"max_unpacked_bytes": max_bytes * XLSX_UNPACKED_RATIO})
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        refusal = _defused(exc)
        if refusal is not None:
            raise _unsafe_xml(refusal) from exc
        raise ImportFileError("not a readable XLSX workbook") from exc
    try:
        sheet = workbook.worksheets[0]
        rows: list[tuple[int, list[Any]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            rows.append((number, list(values)))
            if len(rows) > max_rows + 1:
                break
        return rows
    except ValueError as exc:  # DefusedXmlException is one; other read errors of a sheet are too
        refusal = _defused(exc)
        if refusal is not None:
            raise _unsafe_xml(refusal) from exc
        raise ImportFileError("not a readable XLSX worksheet") from exc
    finally:
        workbook.close()


def _blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _text(value: Any) -> str | None:
    """Cell -> trimmed text; integral floats (Excel numbers) lose their '.0'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _timestamp(value: Any, zone: ZoneInfo) -> datetime | str | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone)
    text = _text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return text  # let the model report it
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _amount(value: Any) -> Decimal | str | None:
    if isinstance(value, float):
        return Decimal(repr(value))
    text = _text(value)
    if text is None:
        return None
    try:
        return Decimal(text.replace(",", "").replace("，", ""))
    except InvalidOperation:
        return text


def _build(cells: dict[str, Any], *, batch: str, default_currency: str,
           zone: ZoneInfo) -> tuple[dict[str, Any], list[str]]:
    """Map one row's named cells to CaseIn input; also return the source column of each contact."""
    data: dict[str, Any] = {"batch": batch}
    for name in ("external_id", "debtor_name", "address", "region", "timezone", "hold_reason", "agent",
                 "team", "days_overdue"):
        text = _text(cells.get(name))
        if text is not None:
            data[name] = text
    days = data.get("days_overdue")
    if isinstance(days, str) and days.isascii() and days.isdigit():  # not "²", which isdigit() takes
        data["days_overdue"] = int(data["days_overdue"])  # the model takes JSON integers only
    data["currency"] = _text(cells.get("currency")) or default_currency
    amount = _amount(cells.get("amount"))
    if amount is not None:
        data["amount"] = amount
    status = _text(cells.get("status"))
    if status is not None:
        data["status"] = _CASE_STATUS.get(status, status.lower())
    received = _timestamp(cells.get("received_at"), zone)
    if received is not None:
        data["received_at"] = received
    contacts: list[dict[str, Any]] = []
    sources: list[str] = []
    for column, kind in _NUMBER_COLUMNS.items():
        number = _text(cells.get(column))
        if number is None:
            continue
        contact: dict[str, Any] = {"number": number, "kind": kind}
        status_text = _text(cells.get(f"{kind}_status"))
        if status_text is not None:
            contact["status"] = _CONTACT_STATUS.get(status_text, status_text.lower())
        if kind == "third_party":
            contact["relation"] = _text(cells.get("third_party_relation"))
        contacts.append(contact)
        sources.append(column)
    data["contacts"] = contacts
    return data, sources


def _errors(exc: ValidationError, sources: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 2 and loc[0] == "contacts" and loc[1].isdigit() and int(loc[1]) < len(sources):
            column = sources[int(loc[1])]
            suffix = loc[2] if len(loc) > 2 else ""
            field = {"number": column, "relation": "third_party_relation"}.get(
                suffix, f"{column}_{suffix}" if suffix else column)
            if suffix == "status":
                field = f"{_NUMBER_COLUMNS[column]}_status"
        else:
            field = ".".join(loc) or "row"
        out.append((field, err["msg"].removeprefix("Value error, ")))
    return out


def read_table(path: str | Path, *, max_rows: int = DEFAULT_MAX_ROWS,
               max_bytes: int = MAX_FILE_BYTES) -> list[tuple[int, list[Any]]]:
    """The non-blank rows (line number, cells) of a CSV or XLSX file, under the size and row caps (the same
    reading, decoding and defusedxml rules as the case import; other imports, payments say, share it)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFileError("cannot read the file") from exc
    if size > max_bytes:
        raise ImportTooLarge("the file is too large", details={"max_bytes": max_bytes, "bytes": size})
    if suffix in (".xlsx", ".xlsm"):
        raw = _xlsx_rows(path, max_rows, max_bytes)
    elif suffix in (".csv", ".txt", ".tsv"):
        raw = _csv_rows(path, max_rows, max_bytes)
    else:
        raise ImportFileError("unsupported file type (use .csv or .xlsx)", details={"suffix": suffix})
    return [(line, values) for line, values in raw if not _blank(values)]


def parse_file(path: str | Path, *, client: str, batch: str, default_region: str = "CN",
               default_currency: str = "CNY", file_timezone: str = "UTC",
               max_rows: int = DEFAULT_MAX_ROWS, max_bytes: int = MAX_FILE_BYTES) -> Iterator[RowResult]:
    """Yield one GoodRow or BadRow per non-blank data row of a CSV or XLSX batch file of ``client``."""
    if not client.strip() or not batch.strip():
        raise ImportFileError("client and batch are required")
    try:
        zone = ZoneInfo(file_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportFileError(f"unknown file_timezone {file_timezone!r}") from exc
    raw = read_table(path, max_rows=max_rows, max_bytes=max_bytes)
    if not raw:
        raise ImportFileError("file has no header row")
    header_line, header = raw[0]
    columns = [_header_key(h) for h in header]
    named = [c for c in columns if c]
    duplicated = sorted({c for c in named if named.count(c) > 1})
    if duplicated:
        raise ImportFileError("columns appear twice", details={"columns": duplicated})
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ImportFileError("required columns missing",
                              details={"missing": missing, "line": header_line})
    body = raw[1:]
    if len(body) > max_rows:
        raise ImportTooLarge("too many rows", details={"max_rows": max_rows})
    return _rows(body, columns, batch=batch, default_region=default_region,
                 default_currency=default_currency, zone=zone)


def _rows(body: list[tuple[int, list[Any]]], columns: list[str], *, batch: str, default_region: str,
          default_currency: str, zone: ZoneInfo) -> Iterator[RowResult]:
    seen: dict[str, int] = {}
    context = {"default_region": default_region}
    for line, values in body:
        cells = {col: values[i] for i, col in enumerate(columns) if col and i < len(values)}
        data, sources = _build(cells, batch=batch, default_currency=default_currency, zone=zone)
        try:
            case = CaseIn.model_validate(data, context=context)
        except ValidationError as exc:
            yield BadRow(line, _errors(exc, sources))
            continue
        first = seen.setdefault(case.external_id, line)
        if first != line:
            yield BadRow(line, [("external_id", f"duplicate of line {first}")])
            continue
        yield GoodRow(line, case)


#: the cell readers, shared with other imports of bank files (payments/importer.py)
cell_text, cell_amount, cell_timestamp = _text, _amount, _timestamp
