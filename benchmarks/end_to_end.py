"""End-to-end cost of a whole Snakemake run: wall time against the sum of its kernel times.

Runs the workflow on a config in a fresh work folder (or reads a finished run with ``--read-only``) and
prints one JSON line: the run's wall time, the migrate kernels' own times (the ``kernel_seconds`` and
``kernel_threads`` attributes of every tile image: their sum, and their core-seconds over the run's cores,
which is the same figure when every migrate job has all the cores), the ratio of wall time to the latter, the time each rule's jobs took (Snakemake ``benchmark:``
files, column ``s``), the largest peak memory of any job (column ``max_rss``, MB) and the contributions per
second of the whole run.

    python benchmarks/end_to_end.py --configfile config/examples/big_survey.yaml --workdir /tmp/e2e
    python benchmarks/end_to_end.py --configfile config/examples/big_survey.yaml --workdir /tmp/e2e --read-only

The numba cache (``__pycache__`` under the installed package) is kept as it is: delete it first to include
compilation in the figure.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def summarize(workdir: Path, results: str) -> dict:
    """Per-rule job seconds, peak memory and kernel seconds of a finished run in ``workdir``."""
    import xarray as xr

    from pstm.profile import read_benchmark

    res = workdir / results
    rules: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "seconds": 0.0, "max_rss_mb": 0.0})
    for tsv in sorted((res / "benchmarks").rglob("*.tsv")):
        rel = tsv.relative_to(res / "benchmarks")
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        job = read_benchmark(tsv)
        r = rules[rule]
        r["jobs"] += 1
        r["seconds"] += job["job_seconds"]
        if not math.isnan(job["max_rss_mb"]):  # NaN: "NA" for jobs too short to sample
            r["max_rss_mb"] = max(r["max_rss_mb"], job["max_rss_mb"])
    kernel_seconds, core_seconds, contributions, n_tiles = 0.0, 0.0, 0, 0
    for image in sorted((res / "tiles").glob("*/image.nc")):
        with xr.open_dataset(image, engine="netcdf4") as ds:
            kernel_seconds += float(ds.attrs["kernel_seconds"])
            core_seconds += float(ds.attrs["kernel_seconds"]) * int(ds.attrs.get("kernel_threads", 1))
            contributions += int(ds.attrs["contributions"])
            n_tiles += 1
    with xr.open_dataset(res / "index" / "traces.nc", engine="netcdf4") as ds:
        n_traces = int(ds.sizes["trace"])
    return {"traces": n_traces, "tiles": n_tiles, "contributions": contributions,
            "kernel_seconds": round(kernel_seconds, 2), "kernel_core_seconds": round(core_seconds, 2),
            "rules": {k: {**v, "seconds": round(v["seconds"], 2)} for k, v in sorted(rules.items())},
            "max_rss_mb": max((v["max_rss_mb"] for v in rules.values()), default=float("nan"))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configfile", required=True, type=Path)
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--read-only", action="store_true", help="summarize a finished run, do not run")
    p.add_argument("snakemake_args", nargs="*", help="passed to Snakemake (after --)")
    a = p.parse_args(argv)
    configfile = a.configfile.resolve()
    results = (yaml.safe_load(configfile.read_text()) or {}).get("results", "results")
    wall = None  # not measured with --read-only
    if not a.read_only:
        a.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(a.workdir), "--configfile", str(configfile), "--cores", str(a.cores), "--quiet", "all",
               *a.snakemake_args]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - start
    s = summarize(a.workdir, results)
    # The kernels' time on the whole machine: core-seconds over cores (= the sum of kernel times when every
    # migrate job runs alone on all cores; fair too when several single-thread jobs run side by side).
    kernel_on_machine = s["kernel_core_seconds"] / a.cores
    measured = wall is not None
    out = {"benchmark": "end_to_end", "config": str(a.configfile), "cores": a.cores,
           "wall_seconds": round(wall, 2) if measured else None,
           **s, "kernel_core_seconds_over_cores": round(kernel_on_machine, 2),
           "wall_over_kernel": round(wall / kernel_on_machine, 3) if measured and kernel_on_machine else None,
           "contributions_per_second_wall": s["contributions"] / wall if measured else None}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
