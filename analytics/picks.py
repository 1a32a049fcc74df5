"""Nearest-rank percentile picking: the one place the rank rule is written (Python and SQL).

The q-quantile (q = num/den, ``metrics.PERCENTILES``) of n values is the ceil(q * n)-th smallest: the
smallest second whose cumulative count reaches that rank.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func

from analytics.metrics import PERCENTILES


def nearest_rank(n: int, num: int, den: int) -> int:
    """The 1-based nearest rank of quantile num/den among ``n`` values: ceil(n * num / den)."""
    return -(-n * num // den)


def pick(hist: dict[int, int]) -> dict[str, float | None]:
    """Nearest-rank percentiles of a ``second -> count`` histogram."""
    tot = sum(hist.values())
    found: dict[str, float | None] = dict.fromkeys(PERCENTILES)
    if not tot:
        return found
    ranks = {name: nearest_rank(tot, num, den) for name, (num, den) in PERCENTILES.items()}
    cum = 0
    for sec in sorted(hist):
        cum += hist[sec]
        for name, rank in ranks.items():
            if found[name] is None and cum >= rank:
                found[name] = float(sec)
        if all(v is not None for v in found.values()):
            break
    return found


def nearest_rank_picks(blobs: Sequence[tuple[int, bytes]], hist: Sequence[tuple[int, int, int]],
                       n_groups: int) -> tuple[list[dict[str, float | None]], dict[str, float | None]]:
    """Nearest-rank percentiles per group id and over all, from packed seconds and ``(group, sec, n)`` rows.

    ``blobs``: ``(group, little-endian uint32 seconds)``. All values of all groups are sorted once as
    ``group << 32 | second``; group g's q-quantile is then element ``start[g] + ceil(q * n[g]) - 1``.
    A negative ``n`` in ``hist`` takes that many values out (the legs of a transferred call replacing its
    whole-call sample, ``analytics.sources.legs_talk_parts``).
    """
    blobs = sorted(blobs, key=itemgetter(0))  # each group's values become adjacent sorted runs
    parts_v = [np.frombuffer(b"".join(b for _, b in blobs), dtype="<u4").astype(np.int64)]
    parts_g = [np.repeat(np.fromiter((g for g, _ in blobs), np.int64, len(blobs)),
                         np.fromiter((len(b) >> 2 for _, b in blobs), np.int64, len(blobs)))]
    removed = None
    if hist:
        arr = np.asarray(hist, dtype=np.int64).reshape(-1, 3)
        negative = arr[:, 2] < 0
        if negative.any():
            removed, arr = arr[negative], arr[~negative]
        parts_v.append(np.repeat(arr[:, 1], arr[:, 2]))
        parts_g.append(np.repeat(arr[:, 0], arr[:, 2]))
    values = np.concatenate(parts_v)
    groups = np.concatenate(parts_g)
    combined = (groups << 32) | values
    combined.sort(kind="stable")  # timsort: linear on runs already in group order
    if removed is not None:
        combined = _take_out(combined, removed)
        groups, values = combined >> 32, combined & 0xFFFFFFFF
    empty: dict[str, float | None] = dict.fromkeys(PERCENTILES)
    if not len(values):
        return [dict(empty) for _ in range(n_groups)], dict(empty)
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    has_list = has.tolist()
    total = len(values)
    cumulative = np.cumsum(np.bincount(values))  # over all groups: calls with at most s seconds
    totals: dict[str, float | None] = {
        name: float(np.searchsorted(cumulative, nearest_rank(total, num, den)))
        for name, (num, den) in PERCENTILES.items()}
    columns = []
    for num, den in PERCENTILES.values():
        idx = np.where(has, starts + (counts * num + den - 1) // den - 1, 0)  # nearest_rank, per group
        vals = ((combined[idx] & 0xFFFFFFFF).astype(np.float64)).tolist()
        columns.append([v if h else None for v, h in zip(vals, has_list, strict=True)])
    names = list(PERCENTILES)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)], totals


def _take_out(combined: np.ndarray[Any, Any], removed: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Sorted ``combined`` without the values of ``removed`` ``(group, sec, -n)`` rows, n copies each."""
    keys, inverse = np.unique((removed[:, 0] << 32) | removed[:, 1], return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=-removed[:, 2]).astype(np.int64)
    first = np.searchsorted(combined, keys, side="left")
    # the i-th copy of a key to take out sits i places after the key's first copy
    at = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    ok = at < len(combined)
    ok[ok] = combined[at[ok]] == np.repeat(keys, counts)[ok]  # only copies that are there (always, in a snapshot)
    return np.delete(combined, at[ok])


async def picks_off_loop(blobs: Sequence[tuple[int, bytes]], hist: Sequence[tuple[int, int, int]],
                         n_groups: int) -> tuple[list[dict[str, float | None]], dict[str, float | None]]:
    """``nearest_rank_picks`` in a worker thread (numpy sorts millions of values)."""
    return await asyncio.to_thread(nearest_rank_picks, blobs, hist, n_groups)


def sql_picks(sec: Any, cum: Any, tot: Any) -> list[Any]:
    """SQL aggregates, one per percentile, labelled by name: the smallest ``sec`` whose running count reaches the rank.

    ``cum >= ceil(tot * num / den)`` is ``cum * den >= tot * num`` in integers.
    """
    return [func.min(case((and_(tot > 0, cum * den >= tot * num), sec))).label(name)
            for name, (num, den) in PERCENTILES.items()]
