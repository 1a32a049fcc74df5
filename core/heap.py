"""Process-wide garbage-collector settings for a long-running service (called once, after start-up).

Reports assemble hundreds of thousands of short-lived tuples, lists and dicts; with the default settings
the cyclic collector runs every 700 allocations and its full passes walk the whole heap, start-up objects
included: measured on the 10 M-call report by agent and day, 15-25 % of its time. After start-up nothing
of the service's own (modules, metadata, compiled statements, the container) is ever garbage, so it is
moved out of the collector's sight (``gc.freeze``), and young collections run less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect once, freeze the survivors (start-up objects) and raise the young-generation threshold."""
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, g1, g2)
