"""Batch file parsing: encodings, aliases, bad rows, duplicates, XLSX."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from cases.importer import BadRow, GoodRow, ImportFileError, parse_file

HEADER = ("external_id,debtor_name,mobile,home,work,third_party_number,third_party_relation,amount,"
          "currency,days_overdue,address,region,timezone,agent,team,received_at\n")


def _write(tmp_path, text, *, name="batch.csv", encoding="utf-8", bom=False):
    path = tmp_path / name
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _parse(path, **kw):
    kw.setdefault("client", "bank-a")
    kw.setdefault("batch", "2026-03")
    return list(parse_file(path, **kw))


def test_csv_with_bom_good_and_bad_rows(tmp_path):
    text = HEADER + (
        "C1,张三,13800138000,010-62345678,,13900139000,配偶,1200.50,CNY,45,北京市,CN-BJ,Asia/Shanghai,a1,t1,"
        "2026-03-01 09:00\n"
        ",无名,13800138001,,,,,10,CNY,1,,,,,,\n"  # missing id
        "C3,李四,12345,,,,,10,CNY,1,,,,,,\n"  # bad number
        "C4,王五,13800138002,,,,,-5,CNY,1,,,,,,\n"  # negative amount
        "\n"  # blank line skipped
        "C1,张三又,13800138003,,,,,1,CNY,1,,,,,,\n"  # duplicate id
        "C6,赵六,+12015550123,,,,,\"1,000.00\",usd,0,,,,,,2026-03-01T12:00:00Z\n"
    )
    results = _parse(_write(tmp_path, text, bom=True), file_timezone="Asia/Shanghai")
    assert [type(r).__name__ for r in results] == ["GoodRow", "BadRow", "BadRow", "BadRow", "BadRow",
                                                   "GoodRow"]
    assert [r.line for r in results] == [2, 3, 4, 5, 7, 8]
    first = results[0]
    assert isinstance(first, GoodRow)
    case = first.case
    assert case.external_id == "C1" and case.batch == "2026-03"
    assert [(c.kind, c.number, c.relation) for c in case.contacts] == [
        ("mobile", "+8613800138000", None), ("home", "+861062345678", None),
        ("third_party", "+8613900139000", "配偶")]
    assert case.amount == Decimal("1200.50") and case.days_overdue == 45
    assert case.received_at == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # naive read in Asia/Shanghai
    bad = {r.line: dict(r.errors) for r in results if isinstance(r, BadRow)}
    assert set(bad[3]) == {"external_id"}
    assert set(bad[4]) == {"mobile"}
    assert set(bad[5]) == {"amount"}
    assert bad[7] == {"external_id": "duplicate of line 2"}
    last = results[-1]
    assert isinstance(last, GoodRow)
    assert last.case.amount == Decimal("1000.00") and last.case.currency == "USD"


def test_gb18030_file_with_chinese_headers(tmp_path):
    text = ("案件号,姓名,手机,欠款金额,逾期天数,状态,暂停原因,手机状态\n"
            "G1,张三,13800138000,99.9,12,暂停,协商还款,勿扰\n"
            "G2,李四,13800138001,5,0,正常,,\n")
    results = _parse(_write(tmp_path, text, encoding="gb18030"))
    assert all(isinstance(r, GoodRow) for r in results), results
    g1 = results[0].case
    assert g1.debtor_name == "张三" and g1.status == "on_hold" and g1.hold_reason == "协商还款"
    assert g1.contacts[0].status == "do_not_call"
    assert g1.currency == "CNY"  # default_currency


def test_tab_separated_utf8_without_bom(tmp_path):
    text = "External ID\tDebtor Name\tMobile\tAmount\nT1\tAnn\t13800138000\t1\n"
    results = _parse(_write(tmp_path, text, name="batch.tsv"))
    assert isinstance(results[0], GoodRow) and results[0].case.external_id == "T1"


def test_third_party_without_relation_names_the_column(tmp_path):
    text = "external_id,debtor_name,third_party_number,amount\nX1,A,13800138000,1\n"
    (row,) = _parse(_write(tmp_path, text))
    assert isinstance(row, BadRow)
    assert row.errors[0][0] == "third_party_relation"


def test_file_level_errors(tmp_path):
    with pytest.raises(ImportFileError) as info:
        _parse(_write(tmp_path, "external_id,debtor_name\nA,B\n"))
    assert info.value.details["missing"] == ["amount"]
    assert info.value.status == 422
    with pytest.raises(ImportFileError):
        _parse(_write(tmp_path, "", name="empty.csv"))
    with pytest.raises(ImportFileError):
        _parse(_write(tmp_path, "x", name="cases.pdf"))
    with pytest.raises(ImportFileError):
        _parse(_write(tmp_path, "案件号,external_id,debtor_name,amount\n"))
    rows = "".join(f"R{i},N,13800138000,1\n" for i in range(4))
    with pytest.raises(ImportFileError) as info:
        _parse(_write(tmp_path, "external_id,debtor_name,mobile,amount\n" + rows), max_rows=3)
    assert info.value.details == {"max_rows": 3}
    assert len(_parse(_write(tmp_path, "external_id,debtor_name,mobile,amount\n" + rows), max_rows=4)) == 4


def test_xlsx_with_excel_typed_cells(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["案件号", "姓名", "手机", "单位电话", "欠款金额", "币种", "逾期天数", "委案日期"])
    ws.append([10001, "张三", 13800138000, "021-61234567", 3500.75, "CNY", 30, datetime(2026, 2, 1, 8, 30)])
    ws.append([None, None, None, None, None, None, None, None])  # blank row
    ws.append(["10002", "李四", "not a phone", None, 10, "CNY", 1, None])
    ws.append([10001, "dup", 13800138009, None, 1, "CNY", 1, None])
    path = tmp_path / "batch.xlsx"
    wb.save(path)
    results = _parse(path)
    assert [r.line for r in results] == [2, 4, 5]
    good = results[0]
    assert isinstance(good, GoodRow)
    assert good.case.external_id == "10001"
    assert [c.number for c in good.case.contacts] == ["+8613800138000", "+862161234567"]
    assert good.case.amount == Decimal("3500.75") and good.case.days_overdue == 30
    assert good.case.received_at == datetime(2026, 2, 1, 8, 30, tzinfo=UTC)
    assert isinstance(results[1], BadRow) and results[1].errors[0][0] == "mobile"
    assert isinstance(results[2], BadRow) and results[2].errors == [("external_id", "duplicate of line 2")]


def test_reimport_gives_same_fingerprints(tmp_path):
    text = HEADER + "C1,张三,13800138000,,,,,1200.50,CNY,45,,,,,,2026-03-01T09:00:00+08:00\n"
    first = _parse(_write(tmp_path, text, name="a.csv"))
    second = _parse(_write(tmp_path, text.replace("1200.50", "1200.5"), name="b.csv", encoding="gb18030"))
    assert first[0].case.fingerprint() == second[0].case.fingerprint()
