"""Pictures and the report of a velocity analysis (:mod:`pstm.velocity_analysis`).

* one picture per analysis location: its semblance spectrum over vrms and time with the picks, the picking
  path, the starting and the updated function, beside its offset gathers migrated with the starting and with
  the updated velocity (flat events mean the velocity is right);
* a velocity section before and after the update, and the change in percent, with the analysis locations;
* the update report: every location's picks, what the Dix check clipped, what the update changed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pstm.qc import _pyplot, _save, markdown_html


#: Window of the display gain (automatic gain control) of the gathers (ms).
AGC_WINDOW_MS = 200.0


def agc(gathers: np.ndarray, twt: np.ndarray, window_ms: float = AGC_WINDOW_MS) -> np.ndarray:
    """Gathers (..., offset, twt) divided by one running RMS over time of them all (the same gain for every
    panel, so panels compare): a display gain that shows deep events beside strong shallow ones."""
    from scipy.ndimage import uniform_filter1d

    dt = float(twt[1] - twt[0]) if twt.size > 1 else 1.0
    g = np.asarray(gathers, np.float64)
    power = (g * g).reshape(-1, g.shape[-1]).mean(axis=0)
    rms = np.sqrt(uniform_filter1d(power, max(1, int(round(window_ms / dt))), mode="nearest"))
    floor = 1e-3 * float(rms.max(initial=0.0)) or 1.0
    return g / np.maximum(rms, floor)


def _gather_panel(ax, gather: np.ndarray, offsets: np.ndarray, twt: np.ndarray, clip: float, title: str):
    width = float(np.median(np.diff(offsets))) if offsets.size > 1 else 1.0
    im = ax.imshow(gather.T, aspect="auto", cmap="gray_r", vmin=-clip, vmax=clip, interpolation="bilinear",
                   extent=[offsets[0] - width / 2, offsets[-1] + width / 2, twt[-1], twt[0]])
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("offset class centre (m)", fontsize=8)
    return im


def plot_location(picks, check, n: int, path: str | Path, updated_vrms: np.ndarray | None = None) -> Path:
    """Spectrum with picks and gathers before and after, of location ``n`` of ``picks`` (its row in ``check``).

    Parameters
    ----------
    picks : xr.Dataset
        Of :func:`pstm.velocity_analysis.picks_dataset`.
    check : xr.Dataset
        Of :func:`pstm.velocity_analysis.check_dataset`, holding this location.
    n : int
        Row of the location in ``picks``.
    updated_vrms : ndarray, shape (n_times,), optional
        The updated function at the location (from the cube).
    """
    plt = _pyplot()
    loc_id = str(picks["location"].values[n])
    m = list(check["location"].values).index(loc_id)
    twt = picks["twt"].values
    trials = picks["trial_vrms"].values[n]  # (trial, twt)
    semblance = picks["semblance"].values[n]
    fig, axes = plt.subplots(1, 3, figsize=(14, 7.5), sharey=True, gridspec_kw={"width_ratios": [1.4, 1, 1]})
    ax = axes[0]
    tt = np.broadcast_to(twt, trials.shape)
    mesh = ax.pcolormesh(trials, tt, semblance, shading="gouraud", cmap="viridis", vmin=0.0, vmax=1.0)
    ax.plot(picks["start_vrms"].values[n], twt, color="tab:orange", ls="--", lw=1.4, label="starting vrms")
    ax.plot(picks["path_vrms"].values[n], twt, color="white", lw=0.6, alpha=0.7, label="picking path")
    if updated_vrms is not None:
        ax.plot(updated_vrms, twt, color="tab:red", lw=1.6, label="updated vrms")
    v = picks["vrms"].values[n]
    have = np.isfinite(v)
    ax.scatter(v[have], twt[have], s=40, facecolor="white", edgecolor="black", zorder=5, label="picks")
    ax.set_xlim(float(trials.min()), float(trials.max()))
    ax.set_ylim(twt[-1], twt[0])
    ax.set_xlabel("trial vrms (m/s)")
    ax.set_ylabel("two-way time (ms)")
    ax.set_title(f"semblance of the supergather: {int(have.sum())} picks", fontsize=9)
    ax.legend(loc="lower left", fontsize=7, facecolor="0.25", labelcolor="white", framealpha=0.8)
    bar = fig.colorbar(mesh, ax=ax, shrink=0.8, pad=0.02)
    bar.set_label("semblance", fontsize=8)
    offsets = check["offset"].values
    gathers = agc(check["gather"].values[m], check["twt"].values)  # (velocity, offset, twt)
    clip = float(np.percentile(np.abs(gathers), 99.0)) or 1.0
    for ax, k, what in ((axes[1], 0, "starting"), (axes[2], 1, "updated")):
        _gather_panel(ax, gathers[k], offsets, check["twt"].values, clip,
                      f"gathers at the {what} velocity (AGC {AGC_WINDOW_MS:g} ms)")
        for t in twt[have]:
            ax.axhline(t, color="tab:red", lw=0.5, ls=":")
    fig.suptitle(f"Velocity analysis at inline {int(picks['iline'].values[n])}, crossline "
                 f"{int(picks['xline'].values[n])}: picks (circles) on the semblance maxima; flat events in the gathers "
                 "mean the velocity is right (dotted: the picks' times)", fontsize=10)
    _save(fig, path)
    plt.close(fig)
    return Path(path)


def section_inline(picks) -> int:
    """The inline of the velocity section: the one holding the most analysis locations (the middle one on ties)."""
    il, counts = np.unique(picks["iline"].values, return_counts=True)
    best = np.nonzero(counts == counts.max())[0]
    return int(il[best[len(best) // 2]])


def plot_velocity_sections(grid, twt: np.ndarray, start_model, updated_model, picks, path: str | Path) -> Path:
    """vrms along one inline before and after the update, and the change (%), with the analysis locations."""
    plt = _pyplot()
    inline = section_inline(picks)
    i = inline - grid.first_inline
    j = np.arange(grid.n_crosslines)
    x, y = grid.xy(np.full(j.size, i), j)
    before = start_model.for_pillars(x, y, twt)
    after = updated_model.for_pillars(x, y, twt)
    change = 100.0 * (after / before - 1.0)
    xl = grid.crosslines
    lo, hi = float(min(before.min(), after.min())), float(max(before.max(), after.max()))
    span = max(abs(float(change.min())), abs(float(change.max())), 0.5)
    fig, axes = plt.subplots(1, 3, figsize=(15, 6), sharey=True)
    extent = [xl[0] - 0.5, xl[-1] + 0.5, twt[-1], twt[0]]
    for ax, data, title in ((axes[0], before, "starting vrms"), (axes[1], after, "updated vrms")):
        im = ax.imshow(data.T, aspect="auto", cmap="jet", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
        levels = np.arange(math.ceil(lo / 100) * 100, hi + 1, 100)
        if levels.size:
            ax.contour(xl, twt, data.T, levels=levels, colors="black", linewidths=0.4)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("crossline")
        fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02).set_label("vrms (m/s); contours every 100 m/s", fontsize=8)
    im = axes[2].imshow(change.T, aspect="auto", cmap="RdBu_r", vmin=-span, vmax=span, extent=extent,
                        interpolation="nearest")
    axes[2].set_title("change (%)", fontsize=9)
    axes[2].set_xlabel("crossline")
    fig.colorbar(im, ax=axes[2], shrink=0.8, pad=0.02).set_label("updated / starting - 1 (%)", fontsize=8)
    on_line = picks["xline"].values[picks["iline"].values == inline]
    for ax in axes:
        for c in on_line:
            ax.axvline(c, color="white" if ax is not axes[2] else "black", lw=0.8, ls="--")
    axes[0].set_ylabel("two-way time (ms)")
    fig.suptitle(f"vrms along inline {inline} before and after the velocity analysis (dashed: analysis locations)",
                 fontsize=10)
    _save(fig, path)
    plt.close(fig)
    return Path(path)


def update_markdown(report: dict, cube_path: str) -> str:
    """The update report: every location's picks and Dix findings, what was clipped, what changed."""
    lo, hi = report["change_percent"]
    used = sum(1 for e in report["locations"] if e["used"])
    lines = [
        "# Velocity update", "",
        f"Updated vrms cube: `{cube_path}` (NetCDF vrms(x, y, twt); `velocity: {{kind: cube, cube_path: ...}}` "
        "reads it). The next run reruns exactly the tiles whose velocity changed.", "",
        f"{used} of {len(report['locations'])} analysis locations have picks and shape the update; the velocity "
        f"changed by {lo:+.2f} % to {hi:+.2f} %.", "",
    ]
    if report["messages"]:
        lines += ["## What the checks changed", ""] + [f"- {m}" for m in report["messages"]] + [""]
    else:
        lines += ["Every Dix interval velocity of the picks and of the cube is plausible; nothing was clipped.", ""]
    lines += ["## Picks", "", "| location | inline | crossline | picks | twt (ms): vrms (m/s), semblance |",
              "|---|---|---|---|---|"]
    for e in report["locations"]:
        picks = "; ".join(f"{t:g}: {v:.0f}, {s:.2f}" for t, v, s in e["picks"]) or "none"
        lines.append(f"| {e['location']} | {e['iline']} | {e['xline']} | {len(e['picks'])} | {picks} |")
    return "\n".join(lines) + "\n"


def write_update_report(report: dict, cube_path: str, out_md: str | Path, out_html: str | Path) -> None:
    from pstm.io.atomic import write_text_atomic

    text = update_markdown(report, cube_path)
    write_text_atomic(out_md, text)
    write_text_atomic(out_html, markdown_html(text, "Velocity update"))
