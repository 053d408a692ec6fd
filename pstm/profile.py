"""Stage 5, profile: per-tile wall time, contributions and throughput, as Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from pstm.io.atomic import atomic_path, write_text_atomic
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
            "compile_seconds": float(a.get("compile_seconds", float("nan"))),
        })
    seconds = sum(t["kernel_seconds"] for t in tiles)
    contributions = sum(t["contributions"] for t in tiles)
    total = {"tiles": len(tiles), "kernel_seconds": seconds, "contributions": contributions,
             "contributions_per_second": contributions / seconds if seconds > 0 else 0.0,
             "compile_seconds": sum(t["compile_seconds"] for t in tiles)}
    if benchmarks:
        total["job_seconds"] = sum(b["job_seconds"] for b in benchmarks)
        total["max_rss_mb"] = max(b["max_rss_mb"] for b in benchmarks)
    return {"tiles": tiles, "total": total}


def to_markdown(profile: dict) -> str:
    t = profile["total"]
    lines = ["# Migration profile", "",
             f"{t['tiles']} tiles, {t['contributions']:.4g} contributions in {t['kernel_seconds']:.2f} s of kernel time: "
             f"{t['contributions_per_second']:.3g} contributions/s.", "",
             f"Kernel times exclude compilation: each job first calls its kernel on one pillar and the traces "
             f"nearest it, which compiles the kernel (or loads it from numba's cache); those calls took "
             f"{t['compile_seconds']:.2f} s in all, in the column *compilation* and the last row.", ""]
    if "job_seconds" in t:
        lines += [f"Migrate jobs took {t['job_seconds']:.2f} s in all (Snakemake benchmark files); "
                  f"largest peak memory of a job: {t['max_rss_mb']:.0f} MB.", ""]
    lines += ["| tile | kernel | traces | kernel time (s) | contributions | contributions/s | compilation (s) | "
              "job time (s) | peak memory (MB) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in profile["tiles"]:
        lines.append(f"| {r['tile']} | {r['kernel']} | {r['n_traces']} | {r['kernel_seconds']:.3f} | "
                     f"{r['contributions']:.4g} | {r['contributions_per_second']:.3g} | {r['compile_seconds']:.3f} | "
                     f"{r.get('job_seconds', float('nan')):.2f} | {r.get('max_rss_mb', float('nan')):.0f} |")
    lines.append(f"| all | | | {t['kernel_seconds']:.3f} | {t['contributions']:.4g} | "
                 f"{t['contributions_per_second']:.3g} | {t['compile_seconds']:.3f} | "
                 f"{t.get('job_seconds', float('nan')):.2f} | {t.get('max_rss_mb', float('nan')):.0f} |")
    return "\n".join(lines) + "\n"


def write_profile(tile_paths: Iterable[str | Path], out_json: str | Path, out_md: str | Path,
                  benchmark_paths: Iterable[str | Path] = (), measurements: dict | None = None,
                  out_png: str | Path | None = None, out_html: str | Path | None = None) -> dict:
    """Write the profile (JSON, Markdown, optionally HTML and a throughput plot), with measurements if given."""
    profile = collect(tile_paths, benchmark_paths)
    text = to_markdown(profile)
    if measurements is not None:
        profile["measurements"] = measurements
        text += "\n" + measurements_markdown(measurements)
    write_text_atomic(out_json, json.dumps(profile, indent=2) + "\n")
    write_text_atomic(out_md, text)
    if out_html is not None:
        from pstm.qc import markdown_html

        write_text_atomic(out_html, markdown_html(text, "Migration profile"))
    if out_png is not None:
        plot_throughput(profile, out_png)
    return profile


# ---------------------------------------------------------------------------
# Measurements on the run's own data (one tile): components, interpolations, kernels
# ---------------------------------------------------------------------------


def _timed(fn, repeats: int) -> float:
    import time

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(sorted(times)[len(times) // 2])


#: (pillar, trace) pairs per measurement call: traces are thinned (every k-th) to stay within it.
MEASURE_PAIRS = 1_000_000


def measure_tile(traces, pillars, params, n_pillars: int = 256, repeats: int = 3) -> dict:
    """Measure, on one tile's traces and ``n_pillars`` pillars around its centre, where the time goes.

    A call's fixed cost (trace preparation, tables) grows with the traces and its loop with pillars times
    traces, so the share of fixed cost is that of a full tile only with many pillars; the traces are
    thinned to every k-th (same geometry, sparser) so that each call stays within :data:`MEASURE_PAIRS`.

    Parameters
    ----------
    traces : TraceGather
    pillars : PillarSet
    params : KernelParams
        The run's settings (interpolation is varied for the comparison).

    Returns
    -------
    dict
        ``components`` (seconds and share per loop component), ``interpolations``
        (contributions/s per method and ratio to linear) and ``kernels``
        (contributions/s per available kernel), every figure measured here.
    """
    import dataclasses

    import numpy as np

    from pstm.kernels.common import PillarSet
    from pstm.kernels.interpolation import TAPS
    from pstm.kernels.numba_kernel.components import COMPONENTS, measure_components
    from pstm.kernels.registry import KernelUnavailable, available_kernels, get_kernel

    stride = max(1, -(-traces.n_traces * min(n_pillars, pillars.n_pillars) // MEASURE_PAIRS))
    traces = traces.take(slice(None, None, stride))
    # The pillars nearest the tile's centre, so a few pillars see the traces of a typical one.
    centre = np.argsort(np.hypot(pillars.x - np.mean(pillars.x), pillars.y - np.mean(pillars.y)), kind="stable")

    def subset(n):
        sel = np.sort(centre[:min(n, pillars.n_pillars)])
        eta = None if pillars.eta is None else pillars.eta[sel]
        return PillarSet(pillars.x[sel], pillars.y[sel], pillars.twt_s, pillars.vrms[sel], eta)

    def run(kernel, prm, pil, reps):
        migrate = get_kernel(kernel)
        out = {}

        def once():
            image = np.zeros((pil.n_pillars, pil.n_times), np.float64 if kernel == "reference" else np.float32)
            out["n"] = migrate(traces, pil, prm, image, np.zeros_like(image))

        once()  # warm-up (compilation)
        seconds = _timed(once, reps)
        return {"contributions": out["n"], "seconds": seconds,
                "contributions_per_second": out["n"] / seconds if seconds > 0 else 0.0}

    base = dataclasses.replace(params, interpolation="linear", antialias="none")
    pil = subset(n_pillars)
    comp = measure_components(traces, subset(min(64, n_pillars)), base, 1)  # the ablation loop is slower
    total = sum(comp["seconds"].values()) or 1.0
    components = {c: {"seconds": comp["seconds"][c], "share": comp["seconds"][c] / total} for c in COMPONENTS}

    def optional(kernel, prm, pil_k, reps):
        """A measurement that may not run here: its figures, or the reason it could not run."""
        try:
            return run(kernel, prm, pil_k, reps)
        except (KernelUnavailable, ValueError, RuntimeError, MemoryError) as exc:
            return {"unavailable": f"{type(exc).__name__}: {exc}"}

    interpolations = {}
    small = subset(1)
    for method in TAPS:
        interpolations[method] = optional("numba", dataclasses.replace(base, interpolation=method), pil, repeats)
    triangle = dataclasses.replace(base, antialias="triangle")
    interpolations["triangle (anti-aliasing)"] = optional("numba", triangle, pil, repeats)
    lin = interpolations["linear"].get("contributions_per_second") or 1.0
    for entry in interpolations.values():
        rate = entry.get("contributions_per_second")
        entry["cost_vs_linear"] = lin / rate if rate else None

    kernels = {}
    for name in available_kernels():
        # the slow ones (numpy, MLX on a CPU) on fewer pillars: throughput is per contribution
        pil_k = small if name in ("reference", "mlx", "hybrid") else pil
        kernels[name] = optional(name, base, pil_k, 1 if name == "reference" else repeats)
    from pstm.kernels.numba_kernel.target import describe

    return {"compiled_for": describe(), "pillars": pil.n_pillars, "traces": traces.n_traces, "trace_stride": stride,
            "components": components,
            "components_full_level_contributions_per_second":
                comp["contributions"] / comp["level_seconds"][-1] if comp["level_seconds"][-1] > 0 else 0.0,
            "interpolations": interpolations, "kernels": kernels}


def measure_tile_isolated(*args, timeout_s: float = 1800.0, **kwargs) -> dict:
    """:func:`measure_tile` in a child process, so that nothing it compares can take the run down with it.

    A comparison may not be able to run on this machine at all (a kernel compiled for an instruction set the
    CPU lacks aborts the process inside LLVM; a GPU library may crash).  The measurements are an optional
    product: the image and the per-tile timings never depend on them.  The child is a fresh interpreter
    (``python -m pstm.profile``) that reads the arguments from a pickle and writes the result to another, so
    it needs nothing of the calling script.  Returns the measurements, or ``{"unavailable": reason}`` (an
    exception's message, or how the child process ended) for the profile to print in their place.
    """
    import pickle
    import signal
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pstm-measure-") as tmp:
        request, answer = Path(tmp) / "request.pickle", Path(tmp) / "answer.pickle"
        with atomic_path(request) as tmp_request:
            Path(tmp_request).write_bytes(pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL))
        try:
            done = subprocess.run([sys.executable, "-m", "pstm.profile", str(request), str(answer)],
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"unavailable": f"the measurement did not finish within {timeout_s:.0f} s"}
        if done.returncode == 0 and answer.exists():
            status, value = pickle.loads(answer.read_bytes())
            return value if status == "ok" else {"unavailable": value}
        tail = " ".join(done.stderr.strip().splitlines()[-3:])[-400:]
        if done.returncode < 0:
            name = signal.Signals(-done.returncode).name if -done.returncode in {s.value for s in signal.Signals} \
                else f"signal {-done.returncode}"
            return {"unavailable": f"the measurement process died with {name} (a comparison cannot run on this "
                                   f"machine): {tail}"}
        return {"unavailable": f"the measurement process ended with exit code {done.returncode}: {tail}"}


def _measure_child(request: str, answer: str) -> None:
    """Child side of :func:`measure_tile_isolated`: read the arguments, measure, write the result."""
    import pickle

    try:
        args, kwargs = pickle.loads(Path(request).read_bytes())
        result = ("ok", measure_tile(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which prints it in the profile
        result = ("error", f"{type(exc).__name__}: {exc}")
    with atomic_path(answer) as tmp:  # a child killed mid-write leaves no answer that looks whole
        Path(tmp).write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


def measurements_markdown(m: dict) -> str:
    if "unavailable" in m:
        return (f"## Measured on tile {m.get('tile', '?')}\n\nMeasurements unavailable: {m['unavailable']}. The "
                "image and the per-tile figures above do not depend on them.\n")
    thinned = f", every {m['trace_stride']}th of the tile's" if m.get("trace_stride", 1) > 1 else ""
    target = m.get("compiled_for", {})
    on = (f"; CPU {target['host_cpu']}, numba kernels compiled for {target['numba_cpu']} "
          f"({target['instruction_set']})") if target else ""
    lines = [f"## Measured on tile {m.get('tile', '?')} ({m['traces']} traces{thinned}, {m['pillars']} pillars "
             f"nearest its centre{on})", "",
             "### Time by component (ablation of the numba loop)", "",
             "| component | seconds | share |", "|---|---|---|"]
    for name, c in m["components"].items():
        lines.append(f"| {name} | {c['seconds']:.4f} | {100 * c['share']:.1f} % |")
    lines += ["", "### Interpolation methods compared (numba kernel)", "",
              "| method | contributions/s | cost vs linear |", "|---|---|---|"]
    for name, e in m["interpolations"].items():
        cost = e.get("cost_vs_linear")
        lines.append(f"| {name} | {e['contributions_per_second']:.3g} | {cost:.2f}x |" if cost
                     else f"| {name} | unavailable: {e.get('unavailable', 'no contribution')} | - |")
    lines += ["", "### Kernels compared", "", "| kernel | contributions/s |", "|---|---|"]
    for name, e in m["kernels"].items():
        lines.append(f"| {name} | {e['contributions_per_second']:.3g} |" if "contributions_per_second" in e
                     else f"| {name} | unavailable: {e['unavailable']} |")
    return "\n".join(lines) + "\n"


def plot_throughput(profile: dict, path) -> None:
    """Bar chart of contributions/s per tile, as PNG (atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    tiles = profile["tiles"]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(tiles)), 4))
    ax.bar(range(len(tiles)), [t["contributions_per_second"] for t in tiles], color="tab:blue")
    ax.set_xticks(range(len(tiles)), [t["tile"] for t in tiles], rotation=90, fontsize=7)
    ax.set_ylabel("contributions per second")
    ax.set_title("kernel throughput per tile")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    _measure_child(sys.argv[1], sys.argv[2])
