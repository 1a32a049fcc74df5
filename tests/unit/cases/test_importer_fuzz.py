"""Property: whatever a row holds, the importer yields a result for it and never raises."""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.importer import BadRow, GoodRow, parse_file

COLUMNS = ["external_id", "debtor_name", "mobile", "third_party_number", "third_party_relation", "amount",
           "currency", "days_overdue", "timezone", "status", "received_at"]
cell = st.one_of(st.text(max_size=20), st.sampled_from(["13800138000", "-1", "1e9", "NaN", "2026-13-40",
                                                       "Asia/Shanghai", "on_hold", "", "配偶"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=len(COLUMNS), max_size=len(COLUMNS)), min_size=1, max_size=5))
def test_every_row_gets_a_result(tmp_path, rows):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    path = tmp_path / "fuzz.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    nonblank = sum(1 for r in rows if any(c.strip() for c in r))
    results = list(parse_file(path, client="c", batch="b"))
    assert len(results) == nonblank
    assert all(isinstance(r, GoodRow | BadRow) for r in results)
    assert all(r.errors for r in results if isinstance(r, BadRow))
