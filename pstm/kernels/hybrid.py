"""Hybrid mode: Numba on the CPU and MLX (on its GPU, where there is one) side by side, over one tile queue.

:func:`migrate_tiles_hybrid` takes already-loaded per-tile inputs and hands
them out from one shared queue to worker threads: ``cpu_workers`` threads run
the ``numba`` kernel (its compiled functions release the GIL, and each call is
itself parallel over pillars), ``mlx_workers`` threads run the ``mlx`` kernel.
Whichever backend is free takes the next tile, so a fast GPU takes more tiles
and a slow one fewer; each tile is migrated by exactly one backend, so its
image equals a single-backend run within float32 tolerance.

The result says which backend did each tile (and, for MLX, which path:
``last_path()`` of :mod:`pstm.kernels.mlx_kernel`), for the tile's provenance.

:func:`migrate` is the same idea inside one tile, with the kernel signature
(``migrate(traces, pillars, params, image, fold) -> int``): the tile's pillars
are cut into blocks that the two backends take from one queue.  It lets the
one-job-per-tile workflow offer ``hybrid`` as a kernel name.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from pstm.kernels.common import KernelParams, PillarSet, TraceGather

#: Code version of the per-tile hybrid kernel (its image is that of numba / mlx, within float32 rounding).
KERNEL_VERSION = "hybrid-1"

#: Pillars per block of the per-tile hybrid :func:`migrate`.  Each block is one kernel call that prepares the
#: tile's traces again (numba: sort and amplitude pairs), so blocks should not be small: a 32 x 32 tile
#: makes 4 blocks.
PILLARS_PER_BLOCK = 256

_state = threading.local()


@dataclass(frozen=True)
class TileJob:
    """One tile's inputs: an identifier (any hashable), its traces and its pillars."""

    key: Any
    traces: TraceGather
    pillars: PillarSet


@dataclass
class TileResult:
    """One tile's output.

    Attributes
    ----------
    key : the job's key
    image, fold : ndarray, shape (n_pillars, n_times), float32
    contributions : int
    backend : str
        Kernel name that migrated the tile (``numba`` or ``mlx``).
    path : str
        Finer path: ``numba`` or the MLX path (``cpu-vectorized``, ``metal``, ``cuda``).
    seconds : float
        Kernel wall time of this tile.
    worker : str
        Name of the worker thread.
    """

    key: Any
    image: np.ndarray
    fold: np.ndarray
    contributions: int
    backend: str
    path: str
    seconds: float
    worker: str = field(default="")


def _run_one(kernel: str, job: TileJob, params: KernelParams, progress=None) -> TileResult:
    from pstm.kernels.registry import get_kernel

    migrate = get_kernel(kernel)
    image = np.zeros((job.pillars.n_pillars, job.pillars.n_times), np.float32)
    fold = np.zeros_like(image)
    start = time.perf_counter()
    if progress is not None and migrate.reports_progress:  # numba: between ranges of the block's pillars
        count = migrate(job.traces, job.pillars, params, image, fold, progress=progress)
    else:
        count = migrate(job.traces, job.pillars, params, image, fold)
        if progress is not None:  # mlx: when the block is done
            progress.advance(job.pillars.n_pillars, count)
    seconds = time.perf_counter() - start
    path = kernel
    if kernel == "mlx":
        from pstm.kernels.mlx_kernel import last_path

        path = last_path() or "mlx"
    return TileResult(job.key, image, fold, int(count), kernel, path, seconds, threading.current_thread().name)


def migrate_tiles_hybrid(jobs: Sequence[TileJob], params: KernelParams, *, cpu_workers: int = 1,
                         mlx_workers: int = 1, cpu_kernel: str = "numba", mlx_kernel: str = "mlx",
                         on_result: Callable[[TileResult], None] | None = None, progress=None) -> list[TileResult]:
    """Migrate ``jobs`` with CPU and MLX workers taking tiles from one queue.

    Parameters
    ----------
    jobs : sequence of TileJob
        Tiles in the order they should be offered (put the biggest first for a balanced finish).
    params : KernelParams
        Shared by both backends (``threads`` sets Numba's threads; ``mlx_device`` MLX's device).
    cpu_workers, mlx_workers : int
        Worker threads per backend (0 disables one backend).  One CPU worker is
        right with Numba's parallel kernel: it already uses every thread it is given.
    cpu_kernel, mlx_kernel : str
        Registered kernel names of the two sides.
    on_result : callable, optional
        Called with each :class:`TileResult` as it completes (from the worker thread), e.g. to write it.
    progress : pstm.progress.PillarProgress, optional
        Told of the pillars done: by the numba side between ranges of its pillars, by the MLX side per job.

    Returns
    -------
    list of TileResult, in the order of ``jobs``.

    Raises
    ------
    The first exception of any worker (the others stop taking new tiles).
    """
    if cpu_workers < 0 or mlx_workers < 0 or cpu_workers + mlx_workers == 0:
        raise ValueError("hybrid: need at least one worker (cpu_workers + mlx_workers >= 1)")
    from pstm.kernels.registry import get_kernel

    # Fail early, in this thread, where a backend cannot run at all (a missing module or option).
    for kernel, n in ((cpu_kernel, cpu_workers), (mlx_kernel, mlx_workers)):
        if n:
            get_kernel(kernel)
    if mlx_workers and mlx_kernel == "mlx":
        from pstm.kernels.mlx_kernel import check_options, choose_path, device_info

        check_options(params)
        choose_path(params.mlx_device, device_info())

    todo: queue.Queue = queue.Queue()
    for index, job in enumerate(jobs):
        todo.put((index, job))
    results: list[TileResult | None] = [None] * len(jobs)
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker(kernel: str) -> None:
        while not stop.is_set():
            try:
                index, job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                result = _run_one(kernel, job, params, progress)
                results[index] = result
                if on_result is not None:
                    on_result(result)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                errors.append(exc)
                stop.set()
                return

    threads = [threading.Thread(target=worker, args=(mlx_kernel,), name=f"{mlx_kernel}-{i}", daemon=True)
               for i in range(mlx_workers)]
    threads += [threading.Thread(target=worker, args=(cpu_kernel,), name=f"{cpu_kernel}-{i}", daemon=True)
                for i in range(cpu_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def backend_counts(results: Sequence[TileResult]) -> dict:
    """Tiles per backend, e.g. ``{"numba": 5, "mlx": 3}``."""
    counts: dict = {}
    for r in results:
        counts[r.backend] = counts.get(r.backend, 0) + 1
    return counts


def split_pillars(pillars: PillarSet, block: int) -> list[tuple[slice, PillarSet]]:
    """Cut a pillar set into consecutive blocks of at most ``block`` pillars."""
    out = []
    for start in range(0, pillars.n_pillars, max(1, int(block))):
        sl = slice(start, min(pillars.n_pillars, start + max(1, int(block))))
        out.append((sl, PillarSet(pillars.x[sl], pillars.y[sl], pillars.twt_s, pillars.vrms[sl])))
    return out


def last_path() -> str:
    """Blocks per backend/path of the latest per-tile :func:`migrate` in this thread, e.g. ``numba:3,mlx/metal:5``."""
    return getattr(_state, "backends", "")


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            progress=None, *, block: int | None = None, cpu_workers: int = 1, mlx_workers: int = 1) -> int:
    """Per-tile hybrid kernel: blocks of the tile's pillars taken by Numba and MLX workers from one queue.

    Same contract as :func:`pstm.kernels.reference.migrate` (adds into ``image`` and ``fold``, returns the
    contribution count).  :func:`last_path` then tells who did what (for provenance attributes).
    ``progress`` hears from the numba side between ranges of pillars and from the MLX side per block.
    """
    blocks = split_pillars(pillars, block or PILLARS_PER_BLOCK)
    jobs = [TileJob(sl, traces, sub) for sl, sub in blocks]
    results = migrate_tiles_hybrid(jobs, params, cpu_workers=cpu_workers, mlx_workers=mlx_workers,
                                   progress=progress)
    total = 0
    tally: dict = {}
    for r in results:
        image[r.key] += r.image
        fold[r.key] += r.fold
        total += r.contributions
        name = r.backend if r.path == r.backend else f"{r.backend}/{r.path}"
        tally[name] = tally.get(name, 0) + 1
    _state.backends = ",".join(f"{k}:{v}" for k, v in sorted(tally.items()))
    return int(total)
