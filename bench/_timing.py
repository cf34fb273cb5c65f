"""Timing shared by the benchmarks: wall and CPU seconds of one run, and the machine's load.

The bench scripts run as ``python bench/x.py``, so this folder is on ``sys.path`` and they
import it as ``from _timing import timed``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Timing:
    """Wall and CPU seconds of a run (NaN until it ends) and the 1-minute load average
    before and after it."""

    load_before: float
    wall_s: float = math.nan
    cpu_s: float = math.nan
    load_after: float = math.nan

    def machine(self) -> str:
        """``"12.3 s CPU; load average 1.2 before, 3.4 after (2 cores)"``."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return (
            f"{self.cpu_s:.1f} s CPU; load average {self.load_before:.1f} before, "
            f"{self.load_after:.1f} after ({cores} cores)"
        )


@contextmanager
def timed() -> Iterator[Timing]:
    """Time the ``with`` block: the :class:`Timing` it yields is filled in when the block
    ends, also when it raises."""
    timing = Timing(load_before=os.getloadavg()[0])
    cpu = time.process_time()
    began = time.perf_counter()
    try:
        yield timing
    finally:
        timing.wall_s = time.perf_counter() - began
        timing.cpu_s = time.process_time() - cpu
        timing.load_after = os.getloadavg()[0]
