"""Report rows column-wise: label raw SQL keys, merge rows that share a label, put the groups in order (pure).

Column-wise because a report by agent and day over a year has tens of thousands of rows: a label computed
once per distinct value and a sort on integer codes cost a fraction of per-row tuples of labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

Labeller = Callable[[str, Any], Any]


def label_columns(group_by: Sequence[str], raw: Sequence[Sequence[Any]], label: Labeller) -> list[list[Any]]:
    """Each raw key column labelled by ``label(dimension, value)``, computed once per distinct value."""
    out = []
    for dim, col in zip(group_by, raw, strict=True):
        memo = {v: label(dim, v) for v in set(col)}
        out.append([memo[v] for v in col])
    return out


def group_index(labels: Sequence[Sequence[Any]], n_rows: int, index: dict[tuple[Any, ...], int] | None = None
                ) -> tuple[dict[tuple[Any, ...], int], list[int]]:
    """The distinct label tuples (in first-seen order; added to ``index`` if given) and each row's group."""
    index = {} if index is None else index
    keys: Iterable[tuple[Any, ...]] = zip(*labels, strict=True) if labels else [()] * n_rows
    gid = [index.setdefault(k, len(index)) for k in keys]
    return index, gid


def merge(labels: Sequence[Sequence[Any]], values: Sequence[Sequence[Any]], extra: Iterable[tuple[Any, ...]] = ()
          ) -> tuple[list[tuple[Any, ...]], list[list[Any]], list[bool]]:
    """Sum the value columns of rows with equal labels; add ``extra`` keys (zeros); order the groups.

    Returns the ordered keys, the summed value columns aligned with them, and whether each key had rows.
    """
    n_rows = len(values[0]) if values else (len(labels[0]) if labels else 0)
    index, gid = group_index(labels, n_rows)
    if len(index) == n_rows:
        sums = [list(col) for col in values]
    else:
        sums = []
        for col in values:
            acc: list[Any] = [0] * len(index)
            for g, v in zip(gid, col, strict=True):
                acc[g] += v
            sums.append(acc)
    from_rows = len(index)
    for k in extra:
        if k not in index:
            index[k] = len(index)
            for s in sums:
                s.append(0)
    keys = list(index)
    order = ordering(keys)
    return [keys[i] for i in order], [[s[i] for i in order] for s in sums], [i < from_rows for i in order]


def ordering(keys: Sequence[tuple[Any, ...]]) -> list[int]:
    """Positions of ``keys`` in report order: by each dimension in turn, values ascending, empty (None) last.

    A dimension's labels are all text or all whole numbers; each is ranked once, then keys sort as integers.
    """
    if not keys:
        return []
    codes = [0] * len(keys)
    for i in range(len(keys[0])):
        distinct = sorted({k[i] for k in keys}, key=lambda v: (v is None, 0 if v is None else v))
        rank = {v: r for r, v in enumerate(distinct)}
        m = len(rank)
        codes = [c * m + rank[k[i]] for c, k in zip(codes, keys, strict=True)]
    return sorted(range(len(keys)), key=codes.__getitem__)
