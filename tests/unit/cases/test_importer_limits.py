"""Batch files are parsed safely: XLSX through defusedxml (billion laughs, XXE refused), under a byte cap
(an XLSX also unpacked) and a row cap, with 413 ``import-too-large`` / 422 in the one error shape."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook

from cases.importer import ImportFileError, ImportTooLarge, parse_file

LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10))
          + "]>\n")
XXE = '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def _xlsx(path: Path, rows: int = 1) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["external_id", "debtor_name", "mobile", "amount"])
    for i in range(rows):
        ws.append([f"C{i}", "张三", "13800138000", 10])
    wb.save(path)
    return path


def _poison(path: Path, part: str, prolog: str, entity: str) -> Path:
    """Rewrite ``part`` of the workbook with a DTD ``prolog`` and ``entity`` used in its first text node."""
    out = path.with_name("poisoned.xlsx")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == part:
                text = data.decode("utf-8")
                text = text[text.index("?>") + 2:].lstrip() if text.startswith("<?xml") else text
                text = text.replace("<t>", f"<t>{entity}", 1).replace("<v>", f"<v>{entity}", 1) \
                    if entity else text
                data = (prolog + text).encode("utf-8")
            dst.writestr(info, data)
    return out


def _parse(path: Path, **kw: int) -> list[object]:
    return list(parse_file(path, client="bank-a", batch="B1", **kw))


def test_openpyxl_parses_through_defusedxml() -> None:
    assert openpyxl.DEFUSEDXML is True


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/styles.xml"])
@pytest.mark.parametrize(("prolog", "entity"), [(LAUGHS, "&lol9;"), (XXE, "&xxe;")], ids=["laughs", "xxe"])
def test_a_workbook_declaring_entities_is_refused(tmp_path: Path, part: str, prolog: str, entity: str) -> None:
    src = _xlsx(tmp_path / "ok.xlsx")
    with zipfile.ZipFile(src) as z:
        if part not in z.namelist():
            pytest.fail(f"{part} is not in the workbook: {z.namelist()}")
    bad = _poison(src, part, prolog, entity if part == "xl/worksheets/sheet1.xml" else "")
    with pytest.raises(ImportFileError) as info:
        _parse(bad)
    assert info.value.status == 422 and info.value.code == "case-import-unsafe-xml"
    assert info.value.to_body()["error"]["details"]["reason"] in ("EntitiesForbidden", "DTDForbidden")


def test_the_unpoisoned_workbook_parses(tmp_path: Path) -> None:
    assert len(_parse(_xlsx(tmp_path / "ok.xlsx", rows=3))) == 3


def test_a_file_over_the_byte_cap_is_413(tmp_path: Path) -> None:
    csv_path = tmp_path / "big.csv"
    csv_path.write_text("external_id,debtor_name,mobile,amount\n" + "C1,张三,13800138000,10\n" * 50,
                        encoding="utf-8")
    xlsx_path = _xlsx(tmp_path / "big.xlsx", rows=50)
    for path in (csv_path, xlsx_path):
        size = path.stat().st_size
        with pytest.raises(ImportTooLarge) as info:
            _parse(path, max_bytes=size - 1)
        assert info.value.status == 413 and info.value.code == "import-too-large"
        assert info.value.details == {"max_bytes": size - 1, "bytes": size}
        assert len(_parse(path, max_bytes=size)) == 50


def test_a_workbook_that_unpacks_past_the_cap_is_413(tmp_path: Path) -> None:
    src = _xlsx(tmp_path / "ok.xlsx")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for part in z.infolist():
            out.writestr(part, z.read(part.filename))
        out.writestr("xl/media/padding.bin", b"\0" * 4_000_000)  # compresses to a few KB
    size = bomb.stat().st_size
    assert size < 100_000
    with pytest.raises(ImportTooLarge) as info:
        _parse(bomb, max_bytes=size * 2)
    assert info.value.status == 413 and "max_unpacked_bytes" in info.value.details


def test_too_many_rows_is_413(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "rows.xlsx", rows=5)
    with pytest.raises(ImportTooLarge) as info:
        _parse(path, max_rows=4)
    assert info.value.status == 413 and info.value.details == {"max_rows": 4}
    assert len(_parse(path, max_rows=5)) == 5
