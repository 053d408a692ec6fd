"""Quality control: pictures of the image and, for synthetic surveys, focusing against the truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.signal import hilbert

from pstm.geometry import OutputGrid
from pstm.io.atomic import atomic_path, write_text_atomic


def envelope(image: np.ndarray) -> np.ndarray:
    """Amplitude envelope along the last (time) axis."""
    return np.abs(hilbert(image, axis=-1))


def find_focus(ds: xr.Dataset, grid: OutputGrid, x: float, y: float, t0_ms: float,
               half_bins: int = 4, half_ms: float = 80.0) -> dict:
    """Where the envelope peaks near a point (x, y, t0): offsets from the truth in bins and samples."""
    twt = ds["twt"].values
    dt = float(twt[1] - twt[0])
    i_true, j_true = (float(v) for v in grid.ij(x, y))
    i_lo, i_hi = max(0, int(round(i_true)) - half_bins), min(grid.n_inlines, int(round(i_true)) + half_bins + 1)
    j_lo, j_hi = max(0, int(round(j_true)) - half_bins), min(grid.n_crosslines, int(round(j_true)) + half_bins + 1)
    k_lo = max(0, int(np.searchsorted(twt, t0_ms - half_ms)))
    k_hi = min(twt.size, int(np.searchsorted(twt, t0_ms + half_ms)) + 1)
    if i_lo >= i_hi or j_lo >= j_hi or k_lo >= k_hi:
        return {"x_m": x, "y_m": y, "t0_ms": t0_ms, "inside_image": False, "focused": False}
    env = envelope(ds["image"].values[i_lo:i_hi, j_lo:j_hi])[..., k_lo:k_hi]
    a, b, c = np.unravel_index(int(np.argmax(env)), env.shape)
    i_pk, j_pk, k_pk = i_lo + a, j_lo + b, k_lo + c
    di, dj, dk = i_pk - i_true, j_pk - j_true, (twt[k_pk] - t0_ms) / dt
    return {
        "x_m": x, "y_m": y, "t0_ms": t0_ms, "inside_image": True,
        "peak_iline": int(grid.inlines[i_pk]), "peak_xline": int(grid.crosslines[j_pk]),
        "peak_twt_ms": float(twt[k_pk]),
        "error_inline_bins": float(di), "error_xline_bins": float(dj), "error_samples": float(dk),
        "focused": bool(abs(di) <= 1.0 and abs(dj) <= 1.0 and abs(dk) <= 2.0),
    }


def reflector_error(ds: xr.Dataset, grid: OutputGrid, reflector: dict, margin_bins: int = 4,
                    half_ms: float = 60.0) -> dict:
    """Compare the imaged plane reflector (envelope peak per pillar) with its true t0(x, y)."""
    from pstm.synthetic import plane_t0_ms

    twt = ds["twt"].values
    dt = float(twt[1] - twt[0])
    ni, nj = grid.n_inlines, grid.n_crosslines
    ii = range(margin_bins, ni - margin_bins) if ni > 2 * margin_bins else range(ni)
    jj = range(margin_bins, nj - margin_bins) if nj > 2 * margin_bins else range(nj)
    cdp_x, cdp_y = ds["cdp_x"].values, ds["cdp_y"].values
    errors = []
    for i in ii:
        env = envelope(ds["image"].values[i])
        for j in jj:
            t_true = float(plane_t0_ms(reflector, cdp_x[i, j], cdp_y[i, j]))
            k_lo, k_hi = np.searchsorted(twt, [t_true - half_ms, t_true + half_ms])
            if k_hi - k_lo < 3:
                continue
            k = k_lo + int(np.argmax(env[j, k_lo:k_hi]))
            errors.append((twt[k] - t_true) / dt)
    errors = np.array(errors)
    if errors.size == 0:
        return {"pillars": 0}
    return {"pillars": int(errors.size), "mean_error_samples": float(errors.mean()),
            "max_abs_error_samples": float(np.abs(errors).max()),
            "within_2_samples_fraction": float(np.mean(np.abs(errors) <= 2.0))}


def focus_report(ds: xr.Dataset, grid: OutputGrid, truth: dict) -> dict:
    """Every diffractor's focus and the reflector's fit, as a dictionary."""
    report = {"diffractors": [find_focus(ds, grid, d["x_m"], d["y_m"], d["t0_ms"]) for d in truth["diffractors"]]}
    if truth.get("reflector", {}).get("enabled"):
        report["reflector"] = reflector_error(ds, grid, truth["reflector"])
    report["all_diffractors_focused"] = all(d["focused"] for d in report["diffractors"])
    return report


def focus_markdown(report: dict) -> str:
    lines = ["# Diffractor focusing against the truth", "",
             "| x (m) | y (m) | t0 (ms) | peak inline | peak xline | peak twt (ms) | error inline (bins) | "
             "error xline (bins) | error (samples) | focused |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for d in report["diffractors"]:
        if not d["inside_image"]:
            lines.append(f"| {d['x_m']:g} | {d['y_m']:g} | {d['t0_ms']:g} | outside the image | | | | | | no |")
            continue
        lines.append(f"| {d['x_m']:g} | {d['y_m']:g} | {d['t0_ms']:g} | {d['peak_iline']} | {d['peak_xline']} | "
                     f"{d['peak_twt_ms']:g} | {d['error_inline_bins']:+.2f} | {d['error_xline_bins']:+.2f} | "
                     f"{d['error_samples']:+.2f} | {'yes' if d['focused'] else 'NO'} |")
    if "reflector" in report and report["reflector"].get("pillars"):
        r = report["reflector"]
        lines += ["", f"Dipping reflector: {r['pillars']} pillars, mean error {r['mean_error_samples']:+.2f} samples, "
                      f"max |error| {r['max_abs_error_samples']:.1f} samples, "
                      f"{100 * r['within_2_samples_fraction']:.1f} % within 2 samples."]
    return "\n".join(lines) + "\n"


def write_focus_report(ds: xr.Dataset, grid: OutputGrid, truth_path: str | Path, out_json: str | Path,
                       out_md: str | Path) -> dict:
    truth = json.loads(Path(truth_path).read_text())
    report = focus_report(ds, grid, truth)
    write_text_atomic(out_json, json.dumps(report, indent=2) + "\n")
    write_text_atomic(out_md, focus_markdown(report))
    return report


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_sections(ds: xr.Dataset, qc: dict, out_dir: str | Path) -> list[Path]:
    """Inline, crossline, time slice and fold map as PNG files in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    img, fold, twt = ds["image"], ds["fold"], ds["twt"].values
    il = qc.get("inline") or int(ds["iline"].values[ds.sizes["iline"] // 2])
    xl = qc.get("crossline") or int(ds["xline"].values[ds.sizes["xline"] // 2])
    ts = qc.get("time_slice_ms") or float(twt[twt.size // 2])
    clip = float(np.percentile(np.abs(img.values), 99.5)) or 1.0
    paths = []

    def section(data, x, xlabel, title, name):
        fig, ax = plt.subplots(figsize=(7, 5))
        ax.imshow(data.T, aspect="auto", cmap="gray_r", vmin=-clip, vmax=clip,
                  extent=[x[0] - 0.5, x[-1] + 0.5, twt[-1], twt[0]])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("two-way time (ms)")
        ax.set_title(title)
        _save(fig, out_dir / name)
        plt.close(fig)
        paths.append(out_dir / name)

    section(img.sel(iline=il).values, ds["xline"].values, "crossline", f"inline {il}", "inline.png")
    section(img.sel(xline=xl).values, ds["iline"].values, "inline", f"crossline {xl}", "crossline.png")
    for data, name, title, cmap, sym in (
        (img.sel(twt=ts, method="nearest").values, "time_slice.png", f"time slice {ts:g} ms", "gray_r", True),
        (fold.max(dim="twt").values, "fold.png", "fold (maximum over time)", "viridis", False),
    ):
        fig, ax = plt.subplots(figsize=(6, 5))
        kw = dict(vmin=-clip, vmax=clip) if sym else {}
        im = ax.imshow(data, origin="lower", aspect="auto", cmap=cmap,
                       extent=[ds["xline"].values[0] - 0.5, ds["xline"].values[-1] + 0.5,
                               ds["iline"].values[0] - 0.5, ds["iline"].values[-1] + 0.5], **kw)
        ax.set_xlabel("crossline")
        ax.set_ylabel("inline")
        ax.set_title(title)
        fig.colorbar(im, ax=ax)
        _save(fig, out_dir / name)
        plt.close(fig)
        paths.append(out_dir / name)
    return paths
