#!/usr/bin/env python
"""What progress reporting costs a migrate job's kernel: the same call with and without progress, one run.

Builds the seed benchmark workload (``docs/benchmark_workload.md``, by default with fewer traces to keep the
run short) and calls each kernel through :func:`pstm.migrate.run_kernel` alternately without progress and
with a :class:`pstm.progress.PillarProgress` (the ranges of pillars and log lines a workflow job makes),
``--repeats`` times each after one untimed warm-up call, and prints one JSON line per kernel::

    {"kernel": ..., "interpolation": ..., "n_traces": ..., "pillars": ..., "ranges": ...,
     "seconds_without": ..., "seconds_with": ..., "cost_ratio": ..., "cpu_cost_ratio": ...,
     "same_image": ...}

``seconds_*`` are medians of the timed calls, ``cost_ratio`` is with over without (1.00: no cost),
``cpu_cost_ratio`` the same from process CPU time (all threads), ``ranges`` the pillar ranges of one call
with progress and ``same_image`` whether both calls gave the same bytes.  The log lines go to a null
handler (writing them to a job's log file costs microseconds).

Examples::

    python benchmarks/progress_cost.py                           # numba linear and sinc8, 20k traces
    python benchmarks/progress_cost.py --kernels numba,reference --traces 5000 --tile 8
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kernel_throughput import build_workload  # noqa: E402
from pstm.kernels.registry import get_kernel  # noqa: E402
from pstm.migrate import run_kernel  # noqa: E402
from pstm.progress import PillarProgress  # noqa: E402


def one_call(migrate, traces, pillars, params, dtype, with_progress: bool):
    image = np.zeros((pillars.n_pillars, pillars.n_times), dtype)
    fold = np.zeros_like(image)
    progress = PillarProgress(pillars.n_pillars, "benchmark") if with_progress else None
    ranges = []
    if progress is not None:  # count the ranges the kernel asks for
        inner = progress.advance
        progress.advance = lambda n, c: (ranges.append(n), inner(n, c))
    wall, cpu = time.perf_counter(), time.process_time()
    run_kernel(migrate, traces, pillars, params, image, fold, progress)
    return time.perf_counter() - wall, time.process_time() - cpu, image, len(ranges)


def measure(kernel: str, traces, pillars, params, repeats: int) -> dict:
    migrate = get_kernel(kernel)
    dtype = np.float64 if kernel == "reference" else np.float32
    one_call(migrate, traces, pillars, params, dtype, False)  # warm-up (compilation)
    runs = {False: [], True: []}
    images = {}
    for _ in range(repeats):
        for with_progress in (False, True):  # alternate, so a change of load hits both
            wall, cpu, image, n_ranges = one_call(migrate, traces, pillars, params, dtype, with_progress)
            runs[with_progress].append((wall, cpu, n_ranges))
            images[with_progress] = image
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in runs.items()}
    return {
        "kernel": kernel, "interpolation": params.interpolation, "n_traces": traces.n_traces,
        "n_samples": traces.n_samples, "pillars": pillars.n_pillars, "ranges": runs[True][-1][2],
        "seconds_without": round(med[False][0], 4), "seconds_with": round(med[True][0], 4),
        "cost_ratio": round(med[True][0] / med[False][0], 4),
        "cpu_cost_ratio": round(med[True][1] / med[False][1], 4),
        "times_without": [round(r[0], 4) for r in runs[False]], "times_with": [round(r[0], 4) for r in runs[True]],
        "same_image": bool(images[False].tobytes() == images[True].tobytes()),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernels", default="numba,numba:sinc8",
                    help="kernel[:interpolation], comma-separated (default numba,numba:sinc8)")
    ap.add_argument("--traces", type=int, default=20_000)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--tile", type=int, default=32, help="pillars per tile side (default 32: 1024 pillars)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    logging.getLogger("pstm").addHandler(logging.NullHandler())
    logging.getLogger("pstm").propagate = False
    traces, pillars, params = build_workload(n_traces=args.traces, n_samples=args.samples, tile=args.tile)
    for spec in args.kernels.split(","):
        kernel, _, method = spec.partition(":")
        prm = replace(params, interpolation=method) if method else params
        print(json.dumps(measure(kernel, traces, pillars, prm, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
