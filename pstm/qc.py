"""Quality control: pictures of the image and, for synthetic surveys, focusing against the truth.

The pictures are what a processor reads at a glance: an inline, a crossline and a time slice through
the strongest event of the image (or, for the synthetic survey, through its first diffractor), each
with a colour bar giving polarity and amplitude units; the time slice in map coordinates with inline
and crossline numbers; the CMP fold (midpoints per bin) beside the migration fold (traces summed into
each output sample); offset gathers where they are made.  :func:`markdown_html` turns the Markdown
reports into HTML for the Snakemake report.
"""

from __future__ import annotations

import html
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
    env = envelope(ds["data"].values[i_lo:i_hi, j_lo:j_hi])[..., k_lo:k_hi]
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


def scored_pillars(shape: tuple[int, int], cmp_fold: np.ndarray | None, margin_bins: int = 4) -> np.ndarray:
    """Pillars where a reflector is scored: data under them and ``margin_bins`` inside the data's edge.

    A pillar counts when every bin within ``margin_bins`` of it (along each axis longer than twice the
    margin) holds midpoints (``cmp_fold`` > 0): near the edge of the data the migration operator is cut
    and the image is not expected to be right, and where no data lie there is nothing to score.  Without
    ``cmp_fold`` the whole grid counts as covered.

    Returns
    -------
    ndarray of bool, shape ``shape``
    """
    from scipy.ndimage import binary_erosion

    covered = np.ones(shape, bool) if cmp_fold is None else np.asarray(cmp_fold) > 0
    mi = margin_bins if shape[0] > 2 * margin_bins else 0
    mj = margin_bins if shape[1] > 2 * margin_bins else 0
    if mi == 0 and mj == 0:
        return covered
    return binary_erosion(covered, structure=np.ones((2 * mi + 1, 2 * mj + 1), bool), border_value=0)


def reflector_error(ds: xr.Dataset, grid: OutputGrid, reflector: dict, cmp_fold: np.ndarray | None = None,
                    margin_bins: int = 4, half_ms: float = 60.0) -> dict:
    """Compare the imaged plane reflector (envelope peak per pillar) with its true t0(x, y).

    Scored at the pillars of :func:`scored_pillars` (data under them, away from the data's edge) whose
    true time lies within the image.
    """
    from pstm.synthetic import plane_t0_ms

    twt = ds["twt"].values
    dt = float(twt[1] - twt[0])
    mask = scored_pillars((grid.n_inlines, grid.n_crosslines), cmp_fold, margin_bins)
    cdp_x, cdp_y = ds["cdp_x"].values, ds["cdp_y"].values
    errors, where = [], []
    for i in np.nonzero(mask.any(axis=1))[0]:
        env = envelope(ds["data"].values[i])
        for j in np.nonzero(mask[i])[0]:
            t_true = float(plane_t0_ms(reflector, cdp_x[i, j], cdp_y[i, j]))
            k_lo, k_hi = np.searchsorted(twt, [t_true - half_ms, t_true + half_ms])
            if k_hi - k_lo < 3:
                continue
            k = k_lo + int(np.argmax(env[j, k_lo:k_hi]))
            errors.append((twt[k] - t_true) / dt)
            where.append((int(grid.inlines[i]), int(grid.crosslines[j])))
    errors = np.array(errors)
    if errors.size == 0:
        return {"pillars": 0, "pillars_with_data": int(mask.sum())}
    worst = int(np.argmax(np.abs(errors)))
    within = int(np.count_nonzero(np.abs(errors) <= 2.0))
    return {"pillars": int(errors.size), "pillars_in_grid": int(mask.size), "mean_error_samples": float(errors.mean()),
            "max_abs_error_samples": float(np.abs(errors).max()),
            "worst_iline": where[worst][0], "worst_xline": where[worst][1],
            "within_2_samples": within, "within_2_samples_fraction": within / errors.size}


def focus_report(ds: xr.Dataset, grid: OutputGrid, truth: dict, cmp_fold: np.ndarray | None = None) -> dict:
    """Every diffractor's focus and the reflector's fit, as a dictionary."""
    report = {"diffractors": [find_focus(ds, grid, d["x_m"], d["y_m"], d["t0_ms"]) for d in truth["diffractors"]]}
    if truth.get("reflector", {}).get("enabled"):
        report["reflector"] = reflector_error(ds, grid, truth["reflector"], cmp_fold)
    report["all_diffractors_focused"] = all(d["focused"] for d in report["diffractors"])
    return report


def percent(count: int, total: int) -> str:
    """``count / total`` in percent with as many decimals as it takes not to round to 0 or 100 % when
    it is neither (0.99976 -> ``99.976 %``)."""
    if total <= 0:
        return "- %"
    value = 100.0 * count / total
    for decimals in range(1, 8):
        text = f"{value:.{decimals}f}"
        if (count == total) == (float(text) == 100.0) and (count == 0) == (float(text) == 0.0):
            return f"{text} %"
    return f"{value!r} %"


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
    r = report.get("reflector")
    if r is not None and r.get("pillars"):
        n, k = r["pillars"], r["within_2_samples"]
        lines += ["", "## Dipping reflector", "",
                  f"Scored at the {n} pillars with data under them (midpoints within 4 bins all round) of the "
                  f"grid's {r['pillars_in_grid']}:", "",
                  "| mean error (samples) | max abs error (samples) | worst pillar (inline, xline) | "
                  "within 2 samples | beyond 2 samples |", "|---|---|---|---|---|",
                  f"| {r['mean_error_samples']:+.2f} | {r['max_abs_error_samples']:.2f} | "
                  f"{r['worst_iline']}, {r['worst_xline']} | {k} of {n} ({percent(k, n)}) | {n - k} |"]
    elif r is not None:
        lines += ["", "Dipping reflector: not scored, no pillar has data under it away from the data's edge."]
    return "\n".join(lines) + "\n"


def write_focus_report(ds: xr.Dataset, grid: OutputGrid, truth_path: str | Path, out_json: str | Path,
                       out_md: str | Path, cmp_fold: np.ndarray | None = None, out_html: str | Path | None = None
                       ) -> dict:
    truth = json.loads(Path(truth_path).read_text())
    report = focus_report(ds, grid, truth, cmp_fold)
    text = focus_markdown(report)
    write_text_atomic(out_json, json.dumps(report, indent=2) + "\n")
    write_text_atomic(out_md, text)
    if out_html is not None:
        write_text_atomic(out_html, markdown_html(text, "Focusing against the truth"))
    return report


# --------------------------------------------------------------------------- where the pictures cut

def strongest_event(data: np.ndarray, block: int = 16) -> tuple[int, int, int]:
    """(i, j, k) of the largest absolute amplitude, read a block of inlines at a time (memory bounded)."""
    best, where = -1.0, (0, 0, 0)
    for a in range(0, data.shape[0], block):
        chunk = np.abs(np.asarray(data[a:a + block]))
        k = int(np.argmax(chunk))
        if chunk.flat[k] > best:
            best = float(chunk.flat[k])
            i, j, t = np.unravel_index(k, chunk.shape)
            where = (a + int(i), int(j), int(t))
    return where


def choose_sections(ds: xr.Dataset, grid: OutputGrid, qc: dict, truth: dict | None = None) -> dict:
    """The inline, crossline and time slice the QC pictures show, and why.

    ``qc.inline``, ``qc.crossline`` and ``qc.time_slice_ms`` win where set; otherwise the pictures go
    through the first synthetic diffractor inside the grid (with a truth) or through the largest absolute
    amplitude of the image.
    """
    twt = ds["twt"].values
    point, why = None, "the largest absolute amplitude of the image"
    for n, d in enumerate((truth or {}).get("diffractors", []), 1):
        i, j = (float(v) for v in grid.ij(d["x_m"], d["y_m"]))
        if -0.5 < i < grid.n_inlines - 0.5 and -0.5 < j < grid.n_crosslines - 0.5 and twt[0] <= d["t0_ms"] <= twt[-1]:
            point = (int(round(i)), int(round(j)), int(np.argmin(np.abs(twt - d["t0_ms"]))))
            why = f"synthetic diffractor {n} at ({d['x_m']:g}, {d['y_m']:g}) m, {d['t0_ms']:g} ms"
            break
    if point is None:
        point = strongest_event(ds["data"].values)
    i, j, k = point
    chosen = {"inline": int(grid.inlines[i]), "crossline": int(grid.crosslines[j]), "time_ms": float(twt[k]),
              "why": why}
    for key, setting in (("inline", "inline"), ("crossline", "crossline"), ("time_ms", "time_slice_ms")):
        if qc.get(setting) is not None:
            chosen[key] = qc[setting] if key != "time_ms" else float(twt[np.argmin(np.abs(twt - qc[setting]))])
            chosen["why"] += f"; {setting} {qc[setting]:g} from the settings"
    return chosen


# --------------------------------------------------------------------------- pictures

def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _amplitude_colorbar(fig, im, ax, clip: float, units: str, what: str) -> None:
    """Colour bar of a section: polarity at its ends (black positive), the amplitude units on its label."""
    bar = fig.colorbar(im, ax=ax, shrink=0.9, pad=0.02)
    bar.set_ticks([-clip, 0.0, clip])
    bar.set_ticklabels([f"-{clip:.3g}\ntrough", "0", f"+{clip:.3g}\npeak"])
    bar.set_label(f"{what} ({units}); black = positive, clipped at the 99.5th percentile", fontsize=8)


def _map_ticks(ax, grid: OutputGrid, along: str, index: int, positions: np.ndarray) -> None:
    """A top axis with the map coordinates (x, y in m) of a section's traces at a few positions."""
    top = ax.secondary_xaxis("top")
    picks = positions[np.unique(np.linspace(0, positions.size - 1, min(4, positions.size)).round().astype(int))]
    labels = []
    for p in picks:
        i, j = (index, p - grid.first_crossline) if along == "xline" else (p - grid.first_inline, index)
        x, y = grid.xy(i, j)
        labels.append(f"{float(x):.0f}\n{float(y):.0f}")
    top.set_xticks(picks, labels, fontsize=7)
    top.set_xlabel("x, y (m)", fontsize=8)


def plot_sections(ds: xr.Dataset, qc: dict, out_dir: str | Path, grid: OutputGrid | None = None,
                  truth: dict | None = None, cmp_fold: np.ndarray | None = None) -> dict:
    """Inline, crossline, time slice, fold maps (and gathers, when ``ds`` holds them) as PNG files in ``out_dir``.

    Returns the paths by name (``inline``, ``crossline``, ``time_slice``, ``fold``, ``gathers``) and
    where the pictures cut (``sections``: :func:`choose_sections`).
    """
    plt = _pyplot()
    from pstm.scan import _label_corners, draw_on_map

    out_dir = Path(out_dir)
    grid = grid or OutputGrid.from_attrs(ds.attrs)
    img, fold, twt = ds["data"], ds["fold"], ds["twt"].values
    cut = choose_sections(ds, grid, qc, truth)
    il, xl, ts = cut["inline"], cut["crossline"], cut["time_ms"]
    i_il, j_xl = il - grid.first_inline, xl - grid.first_crossline
    clip = float(np.percentile(np.abs(img.values), 99.5)) or 1.0
    units = img.attrs.get("units", "input amplitude units")
    what = img.attrs.get("long_name", "migrated amplitude")
    paths = {}

    def section(data, x, xlabel, title, name, mark, along, index):
        fig, ax = plt.subplots(figsize=(8, 5.5))
        im = ax.imshow(data.T, aspect="auto", cmap="gray_r", vmin=-clip, vmax=clip, interpolation="nearest",
                       extent=[x[0] - 0.5, x[-1] + 0.5, twt[-1], twt[0]])
        ax.axvline(mark, color="tab:red", lw=0.8, ls="--")
        ax.axhline(ts, color="tab:blue", lw=0.8, ls="--")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("two-way time (ms)")
        ax.set_title(f"{title}\nthrough {cut['why']}; dashed: the other section (red) and the time slice (blue)",
                     fontsize=9)
        _map_ticks(ax, grid, along, index, x)
        _amplitude_colorbar(fig, im, ax, clip, units, "amplitude")
        _save(fig, out_dir / name)
        plt.close(fig)
        paths[name.split(".")[0]] = out_dir / name

    section(img.sel(iline=il).values, ds["xline"].values, "crossline", f"Inline {il}: {what}", "inline.png", xl,
            "xline", i_il)
    section(img.sel(xline=xl).values, ds["iline"].values, "inline", f"Crossline {xl}: {what}", "crossline.png", il,
            "iline", j_xl)

    k = int(np.argmin(np.abs(twt - ts)))
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    draw_on_map(ax, grid, img.values[:, :, k], cmap="gray_r", vmin=-clip, vmax=clip)
    _mark_lines(ax, grid, i_il, j_xl)
    _label_corners(ax, grid)
    _amplitude_colorbar(fig, ax.collections[0], ax, clip, units, "amplitude")
    ax.set_title(f"Time slice {twt[k]:g} ms through {cut['why']}\n"
                 f"dashed: inline {il} (red), crossline {xl} (blue)", fontsize=9, pad=22)
    _save(fig, out_dir / "time_slice.png")
    plt.close(fig)
    paths["time_slice"] = out_dir / "time_slice.png"

    paths["fold"] = _plot_folds(ds, grid, cmp_fold, k, out_dir / "fold.png")
    if "gather" in ds:
        paths["gathers"] = _plot_gathers(ds, grid, i_il, j_xl, cut, units, out_dir / "gathers.png")
    if "angle_gather" in ds:
        paths["angle_gathers"] = _plot_gathers(ds, grid, i_il, j_xl, cut, units, out_dir / "angle_gathers.png",
                                               "angle")
    return {"paths": paths, "sections": cut}


def _mark_lines(ax, grid: OutputGrid, i: int, j: int) -> None:
    """The inline ``i`` (red) and crossline ``j`` (blue) of the sections, dashed, on a map."""
    jj = np.array([-0.5, grid.n_crosslines - 0.5])
    ii = np.array([-0.5, grid.n_inlines - 0.5])
    ax.plot(*grid.xy(np.full(2, i), jj), color="tab:red", lw=0.9, ls="--")
    ax.plot(*grid.xy(ii, np.full(2, j)), color="tab:blue", lw=0.9, ls="--")


def _plot_folds(ds: xr.Dataset, grid: OutputGrid, cmp_fold: np.ndarray | None, k: int, path: Path) -> Path:
    """CMP fold (midpoints per bin) beside the migration fold at the time slice, both in map coordinates."""
    plt = _pyplot()
    from pstm.scan import _label_corners, draw_on_map

    panels = [] if cmp_fold is None else [("CMP fold: traces whose midpoint falls in the bin",
                                           np.asarray(cmp_fold, np.float64), "CMP fold (traces)")]
    twt = ds["twt"].values
    panels.append((f"Migration fold at {twt[k]:g} ms: traces summed into each output sample",
                   ds["fold"].values[:, :, k].astype(np.float64), "migration fold (traces)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(7.0 * len(panels), 6.5), squeeze=False)
    for ax, (title, values, label) in zip(axes[0], panels):
        draw_on_map(ax, grid, values, cmap="viridis", vmin=0)
        fig.colorbar(ax.collections[0], ax=ax, label=label, shrink=0.8)
        _label_corners(ax, grid)
        ax.set_title(f"{title}\nlargest {values.max():.0f}, {np.count_nonzero(values == 0)} of {values.size} "
                     "bins zero", fontsize=9, pad=22)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


#: Common-image gathers shown in the gathers picture (pillars along the inline through the event).
GATHER_PANELS = 5


def _plot_gathers(ds: xr.Dataset, grid: OutputGrid, i: int, j: int, cut: dict, units: str, path: Path,
                  by: str = "offset") -> Path:
    """Offset gathers (``by="offset"``, offset x time) or reflection-angle gathers (``by="angle"``) at pillars
    along the inline through the event: flat events mean the velocity is right; along an event of an angle
    gather with true-amplitude weights, the amplitude is R(angle)."""
    plt = _pyplot()
    gather = ds["gather" if by == "offset" else "angle_gather"].values  # (class, iline, xline, twt)
    twt, offsets = ds["twt"].values, ds[by].values
    step = max(1, grid.n_crosslines // (2 * GATHER_PANELS))
    js = sorted({int(np.clip(j + step * d, 0, grid.n_crosslines - 1)) for d in range(-(GATHER_PANELS // 2),
                                                                                      GATHER_PANELS // 2 + 1)})
    clip = float(np.percentile(np.abs(gather), 99.5)) or 1.0
    width = float(np.median(np.diff(offsets))) if offsets.size > 1 else 1.0
    fig, axes = plt.subplots(1, len(js), figsize=(2.2 * len(js) + 1.5, 5.5), sharey=True, squeeze=False)
    for ax, jj in zip(axes[0], js):
        im = ax.imshow(gather[:, i, jj, :].T, aspect="auto", cmap="gray_r", vmin=-clip, vmax=clip,
                       interpolation="nearest",
                       extent=[offsets[0] - width / 2, offsets[-1] + width / 2, twt[-1], twt[0]])
        ax.set_title(f"xline {grid.crosslines[jj]}", fontsize=9)
        ax.set_xlabel("offset (m)" if by == "offset" else "reflection angle (degrees)", fontsize=8)
        ax.axhline(cut["time_ms"], color="tab:blue", lw=0.6, ls="--")
    axes[0][0].set_ylabel("two-way time (ms)")
    what = "Offset gathers" if by == "offset" else "Reflection-angle gathers (amplitude per trace of the CMP bin)"
    fig.suptitle(f"{what} on inline {grid.inlines[i]} (through {cut['why']}): flat events mean the "
                 "velocity is right", fontsize=9)
    _amplitude_colorbar(fig, im, list(axes[0]), clip, units, "amplitude")
    _save(fig, path)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- HTML for the report

def markdown_html(text: str, title: str) -> str:
    """A small, self-contained HTML page of pstm's Markdown reports (headings, paragraphs, pipe tables,
    code blocks): the Snakemake report shows HTML inline."""
    out, table, code = [], [], None

    def flush_table():
        if not table:
            return
        rows = [r for r in table if not set(r.replace("|", "").strip()) <= set("-: ")]
        cells = [[html.escape(c.strip()) for c in r.strip().strip("|").split("|")] for r in rows]
        out.append("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in cells[0]) + "</tr></thead><tbody>"
                   + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[1:])
                   + "</tbody></table>")
        table.clear()

    for line in text.splitlines():
        if line.startswith("```"):
            if code is None:
                flush_table()
                code = []
            else:
                out.append("<pre>" + html.escape("\n".join(code)) + "</pre>")
                code = None
            continue
        if code is not None:
            code.append(line)
            continue
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 4)
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush_table()
    style = ("body{font-family:sans-serif;font-size:14px;margin:1em}table{border-collapse:collapse;margin:0.5em 0}"
             "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}th{background:#eee}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def text_html(text: str, title: str) -> str:
    """Preformatted text (the survey scan) as a small HTML page."""
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><pre>{html.escape(text)}</pre></body></html>\n")

