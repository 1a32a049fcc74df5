"""Spreadsheet cells that cannot run: every CSV and XLSX the service writes passes its cells through here.

OWASP CSV injection: a text cell beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage return is read
as a formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``@SUM(...)``, DDE). Such a cell
is written with a leading apostrophe, so it shows as the text it is. Only text is touched: numbers,
decimals, dates and booleans written as such stay numbers (a negative amount is still ``-12.5``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: the first characters that make a spreadsheet read a text cell as a formula
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value``, with an apostrophe in front when it is text that would start a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through :func:`neutralise`."""
    return [neutralise(v) for v in values]
