"""Progress of long loops, logged as they go: fraction done, rate and time to go.

A migrate job reports how many of its pillars are done, the contributions per
second and an estimated time to go (ETA), through :class:`PillarProgress`;
the index stage reports its trace scan through :class:`CountProgress`.  A line
is logged at least at every 10 % of the work and, in between, whenever
``interval_s`` seconds have passed since the previous line (checked when a
piece of work ends), so a slow job says something every few seconds and a
fast one writes about ten lines.

Kernels that can stop between ranges of pillars within one prepared call
(``reports_progress`` in :mod:`pstm.kernels.registry`) ask
:meth:`PillarProgress.ranges` for those ranges and call
:meth:`PillarProgress.advance` after each; for the others (mlx)
:func:`pstm.migrate.run_kernel` calls the kernel once per range, ranges of at
least :data:`FALLBACK_MIN_RANGE_S` of work because each call prepares its traces
again.  Ranges never change an image: every kernel sums each output sample over
the traces in the same order whatever pillars a range or call holds
(``tests/test_progress.py`` checks the bytes for every kernel).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable, Iterator

log = logging.getLogger("pstm")

#: Seconds between progress lines when the work is slow (at most: a line is written when a range ends).
INTERVAL_S = 5.0
#: A line at least every 1/STEPS of the work (10 %), and no range longer than that.
STEPS = 10
#: Smallest range as a fraction of the pillars of one call (1 %): bounds the number of ranges of a fast kernel.
MIN_RANGE_FRACTION = 0.01
#: Smallest range in seconds of work at the measured rate: each range restarts the kernel's parallel loop over
#: the trace blocks, which costs about a millisecond, so a range of a second keeps that cost below 0.1 %.  A
#: call faster than ten of these has fewer than ten ranges (a line per range, all within seconds).
MIN_RANGE_S = 1.0
#: The same for kernels called once per range (:func:`pstm.migrate.run_kernel`): mlx on the CPU prepares its
#: traces again per call, about 40 ms for 20,000 traces, so ranges of 5 s keep that below 1 %.
FALLBACK_MIN_RANGE_S = 5.0


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class CountProgress:
    """Progress of ``total`` units of work (traces, pillars), logged at every 10 % and every ``interval_s``.

    Parameters
    ----------
    total : int
        Units of work in all.
    label : str
        Start of every line (e.g. ``"tile 000_001"``).
    unit : str
        Name of a unit, plural (``"pillars"``, ``"traces"``).
    logger : logging.Logger, optional
    interval_s : float
        Seconds after which a line is due even within a 10 % step.
    rate_of : callable, optional
        ``rate_of(done, extra, seconds)`` returns the text of the rate part of a line;
        by default ``"<units>/s"``.
    clock : callable
        Monotonic clock (seconds); tests pass a fake one.
    """

    def __init__(self, total: int, label: str, unit: str, logger: logging.Logger | None = None,
                 interval_s: float = INTERVAL_S, rate_of: Callable | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total = max(0, int(total))
        self.label = label
        self.unit = unit
        self.logger = logger or log
        self.interval_s = float(interval_s)
        self.clock = clock
        self.rate_of = rate_of
        self.done = 0
        self.extra = 0  # contributions, bytes: what the rate speaks of
        self.lines = 0
        self._lock = threading.Lock()
        self._start = clock()
        self._last_line = self._start
        self._last_step = 0

    @property
    def elapsed(self) -> float:
        return self.clock() - self._start

    def rate(self) -> float:
        """Units per second so far (0 before any is done)."""
        seconds = self.elapsed
        return self.done / seconds if seconds > 0 and self.done > 0 else 0.0

    def advance(self, units: int, extra: float = 0) -> None:
        """Record ``units`` more done (with ``extra`` more of what the rate counts); log a line when due."""
        with self._lock:
            self.done = min(self.total, self.done + int(units))
            self.extra += extra
            now = self.clock()
            step = int(STEPS * self.done // self.total) if self.total else STEPS
            due = step > self._last_step or now - self._last_line >= self.interval_s or self.done == self.total
            if not due:
                return
            self._last_step = step
            self._last_line = now
            self.lines += 1
            self.logger.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        seconds = now - self._start
        fraction = self.done / self.total if self.total else 1.0
        rate = (self.rate_of(self.done, self.extra, seconds) if self.rate_of
                else f"{self.done / seconds if seconds > 0 else 0.0:.3g} {self.unit}/s")
        if self.done >= self.total:
            tail = f"done in {_duration(seconds)}"
        elif fraction > 0:
            tail = f"{_duration(seconds)} elapsed, ETA {_duration(seconds * (1 - fraction) / fraction)}"
        else:
            tail = f"{_duration(seconds)} elapsed"
        return f"{self.label}: {100 * fraction:5.1f} % of {self.total} {self.unit} ({rate}), {tail}"


def _contributions_rate(done: int, contributions: float, seconds: float) -> str:
    return f"{contributions:.3g} contributions, {contributions / seconds if seconds > 0 else 0.0:.3g}/s"


class PillarProgress(CountProgress):
    """Progress of a migrate job over its pillars (times its offset classes), with contributions per second.

    Parameters
    ----------
    total_pillars : int
        Pillars the job migrates in all (pillars x offset classes: each class is one pass over the pillars).
    label : str
        Start of every line.
    """

    def __init__(self, total_pillars: int, label: str, logger: logging.Logger | None = None,
                 interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic):
        super().__init__(total_pillars, label, "pillars", logger, interval_s, _contributions_rate, clock)

    def ranges(self, n_pillars: int, adaptive: bool = True, min_seconds: float = MIN_RANGE_S) -> Iterator[slice]:
        """Consecutive ranges of ``range(n_pillars)`` to run one after another, calling :meth:`advance` after each.

        ``adaptive``: the first range holds 1 % (at least one pillar), each next one about ``interval_s``
        seconds of work at the rate measured so far, between 1 % and a tenth of the pillars, but never
        less than ``min_seconds`` of work (what a range's restart costs sets it): a slow kernel reports
        every few seconds and at every 10 %, a call of a few seconds makes ranges of ``min_seconds``, a
        call under ``min_seconds`` two ranges.  The ranges depend on timing, so a kernel must give every
        pillar the same sum whatever range holds it (all of pstm's kernels do; tests check it).  Not
        adaptive: ranges of a tenth (rounded down), fixed by ``n_pillars`` alone.  With fewer than ten
        pillars, one pillar per range.
        """
        cap = max(1, n_pillars // STEPS)  # at most a tenth: every 10 % mark is passed by a range of its own
        floor = max(1, math.ceil(n_pillars * MIN_RANGE_FRACTION))
        start = 0
        size = floor if adaptive else cap
        while start < n_pillars:
            stop = min(n_pillars, start + size)
            yield slice(start, stop)
            start = stop
            if adaptive:
                rate = self.rate()
                if rate <= 0:
                    size = cap
                else:
                    size = int(max(floor, min(cap, round(rate * self.interval_s)), round(rate * min_seconds)))
