"""Report rows column-wise: label raw SQL keys, merge rows that share a label, put the groups in order (pure).

Column-wise because a report by agent and day over a year has tens of thousands of rows: a label computed
once per distinct value and a sort on integer codes cost a fraction of per-row tuples of labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
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


def merge(labels: Sequence[Sequence[Any]], values: Sequence[Sequence[Any]], extra: Iterable[tuple[Any, ...]] = (),
          *, unique: bool = False) -> tuple[list[list[Any]], list[list[Any]], list[bool]]:
    """Sum the value columns of rows with equal labels; add ``extra`` keys (zeros); order the groups.

    ``unique``: the caller knows no two rows share a label (SQL grouped by keys that label one-to-one), so
    rows are groups as they are. Returns the ordered key columns, the value columns aligned with them, and
    whether each group had rows (False: an ``extra`` key only).
    """
    n_rows = len(values[0]) if values else (len(labels[0]) if labels else 0)
    keys: list[list[Any]]
    if unique:
        keys = [list(c) for c in labels]
        sums = [list(c) for c in values]
        present: set[tuple[Any, ...]] | None = None
    else:
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
        keys = [list(c) for c in zip(*index, strict=True)] if index and labels else [[] for _ in labels]
        present = set(index)
    n_groups = len(sums[0]) if sums else (len(keys[0]) if keys else 0)
    extra = list(extra)
    added = 0
    if extra:
        if present is None:
            present = set(zip(*keys, strict=True)) if keys else ({()} if n_groups else set())
        for k in dict.fromkeys(extra):
            if k not in present:
                added += 1
                for col, v in zip(keys, k, strict=True):
                    col.append(v)
                for s_ in sums:
                    s_.append(0)
    total = n_groups + added
    order = ordering(keys, total)
    if order == list(range(total)):
        return keys, sums, [True] * n_groups + [False] * added
    take = itemgetter(*order) if total > 1 else (lambda c: tuple(c[i] for i in order))
    had = [True] * n_groups + [False] * added
    return [list(take(c)) for c in keys], [list(take(c)) for c in sums], list(take(had))


def ordering(keys: Sequence[Sequence[Any]], n: int) -> list[int]:
    """Positions of ``n`` groups with key columns ``keys`` in report order: by each dimension in turn, values
    ascending, empty (None) last.

    A dimension's labels are all text or all whole numbers; each is ranked once, then groups sort as integers.
    """
    codes = [0] * n
    for col in keys:
        distinct = sorted(set(col), key=lambda v: (v is None, 0 if v is None else v))
        rank = {v: r for r, v in enumerate(distinct)}
        m = len(rank)
        codes = [c * m + rank[v] for c, v in zip(codes, col, strict=True)]
    return sorted(range(n), key=codes.__getitem__)
