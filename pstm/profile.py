"""Stage 5, profile: per-tile wall time, contributions and throughput, as Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from pstm.io.atomic import write_text_atomic
from pstm.io.netcdf import read_dataset


def read_benchmark(path: str | Path) -> dict:
    """Wall seconds and peak resident memory (MB) from a Snakemake ``benchmark:`` TSV file."""
    lines = Path(path).read_text().splitlines()
    header, values = lines[0].split("\t"), lines[-1].split("\t")
    row = dict(zip(header, values))

    def num(key):
        try:
            return float(row[key])
        except (KeyError, ValueError):
            return float("nan")

    return {"job_seconds": num("s"), "max_rss_mb": num("max_rss")}


def collect(tile_paths: Iterable[str | Path], benchmark_paths: Iterable[str | Path] = ()) -> dict:
    """Per-tile figures from each tile file's attributes (and benchmark files, in the same order), plus totals."""
    tiles = []
    benchmarks = [read_benchmark(p) for p in benchmark_paths]
    for n, path in enumerate(tile_paths):
        a = read_dataset(path).attrs
        tiles.append({**(benchmarks[n] if n < len(benchmarks) else {}),
            "tile": a["tile_id"], "kernel": a["pstm_kernel"], "n_traces": int(a["n_traces"]),
            "kernel_seconds": float(a["kernel_seconds"]), "contributions": int(a["contributions"]),
            "contributions_per_second": float(a["contributions_per_second"]),
        })
    seconds = sum(t["kernel_seconds"] for t in tiles)
    contributions = sum(t["contributions"] for t in tiles)
    total = {"tiles": len(tiles), "kernel_seconds": seconds, "contributions": contributions,
             "contributions_per_second": contributions / seconds if seconds > 0 else 0.0}
    if benchmarks:
        total["job_seconds"] = sum(b["job_seconds"] for b in benchmarks)
        total["max_rss_mb"] = max(b["max_rss_mb"] for b in benchmarks)
    return {"tiles": tiles, "total": total}


def to_markdown(profile: dict) -> str:
    t = profile["total"]
    lines = ["# Migration profile", "",
             f"{t['tiles']} tiles, {t['contributions']:.4g} contributions in {t['kernel_seconds']:.2f} s of kernel time: "
             f"{t['contributions_per_second']:.3g} contributions/s.", ""]
    if "job_seconds" in t:
        lines += [f"Migrate jobs took {t['job_seconds']:.2f} s in all (Snakemake benchmark files); "
                  f"largest peak memory of a job: {t['max_rss_mb']:.0f} MB.", ""]
    lines += ["| tile | kernel | traces | kernel time (s) | contributions | contributions/s | job time (s) | peak memory (MB) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in profile["tiles"]:
        lines.append(f"| {r['tile']} | {r['kernel']} | {r['n_traces']} | {r['kernel_seconds']:.3f} | "
                     f"{r['contributions']:.4g} | {r['contributions_per_second']:.3g} | "
                     f"{r.get('job_seconds', float('nan')):.2f} | {r.get('max_rss_mb', float('nan')):.0f} |")
    return "\n".join(lines) + "\n"


def write_profile(tile_paths: Iterable[str | Path], out_json: str | Path, out_md: str | Path,
                  benchmark_paths: Iterable[str | Path] = ()) -> dict:
    profile = collect(tile_paths, benchmark_paths)
    write_text_atomic(out_json, json.dumps(profile, indent=2) + "\n")
    write_text_atomic(out_md, to_markdown(profile))
    return profile
