"""Figures and picture of docs/amplitudes.md: three equal reflectors imaged with each weight mode.

Data from wave physics (:mod:`pstm.modelling`: image-source direct waves for point sources, the 2D Green's
function for line sources), R = 0.1 at 400, 700 and 1000 m in 2000 m/s, common-offset sections of one trace
per midpoint cell migrated at the CMP by the reference kernel.  Prints Markdown tables of the peaks over R
(true amplitude) and over the shallow zero-offset peak (standard weights, whose absolute scale is arbitrary),
a fit of an AVO reflector, and writes ``docs/images/amplitudes.png``.

Run: ``python benchmarks/amplitudes.py [out.png]`` (about 30 s on 2 cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pstm.modelling import KNOWN_ANSWER, image_at_cmp, linear_avo, reflector_peaks

R = 0.1
OFFSETS = np.arange(0.0, 1201.0, 200.0)
GEOMETRIES = ("3d", "2.5d", "2d")
MODES = ("standard", "true_amplitude")


def measure() -> dict:
    """Peaks, shape (n_offsets, 3 reflectors), by (mode, geometry)."""
    return {(mode, g): np.array([reflector_peaks(image_at_cmp(g, h, [R] * 3, mode)[0]) for h in OFFSETS])
            for mode in MODES for g in GEOMETRIES}


def avo_fit(geometry: str, intercept: float = 0.1, gradient: float = -0.15) -> np.ndarray:
    """(intercept, gradient) fitted to the CIG peaks of R = A + B sin^2 theta, per reflector, shape (3, 2)."""
    offsets = np.array([0.0, 300.0, 600.0, 900.0, 1200.0])
    p = np.array([reflector_peaks(image_at_cmp(geometry, h, [linear_avo(intercept, gradient)] * 3)[0])
                  for h in offsets])
    fits = []
    for k, z in enumerate(KNOWN_ANSWER["depths_m"]):
        sin2 = (offsets / 2) ** 2 / (z**2 + (offsets / 2) ** 2)
        b, a = np.polyfit(sin2, p[:, k], 1)
        fits.append((a, b))
    return np.array(fits)


def scaled(mode: str, geometry: str, peaks: np.ndarray) -> np.ndarray:
    """Peaks over R (true amplitude) or over the shallow zero-offset peak (standard)."""
    return peaks / R if mode == "true_amplitude" else peaks / peaks[0, 0]


def tables(results: dict) -> str:
    depths = KNOWN_ANSWER["depths_m"]
    lines = ["| weights | geometry | offset (m) | " + " | ".join(f"{z:g} m" for z in depths) + " | deep / shallow |",
             "|---|---|---|" + "---|" * len(depths) + "---|"]
    for (mode, g), peaks in results.items():
        s = scaled(mode, g, peaks)
        for h, row in zip(OFFSETS, s):
            if h in (0.0, 600.0, 1200.0):
                lines.append(f"| {mode} | {g} | {h:g} | " + " | ".join(f"{v:.3f}" for v in row)
                             + f" | {row[-1] / row[0]:.3f} |")
    for (mode, g), peaks in results.items():
        s = scaled(mode, g, peaks)
        lines.append(f"\n{mode} {g}: all offsets 0-1200 m, all depths: min {s.min():.3f}, max {s.max():.3f}, "
                     f"max/min {s.max() / s.min():.3f}")
    return "\n".join(lines)


def picture(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depths = np.array(KNOWN_ANSWER["depths_m"])
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), sharey="row")
    colours = {"standard": "tab:red", "true_amplitude": "tab:blue"}
    for col, g in enumerate(GEOMETRIES):
        ax = axes[0, col]
        for mode in MODES:
            s = scaled(mode, g, results[(mode, g)])
            ax.plot(depths, s[0], "o-", color=colours[mode], label=f"{mode}, offset 0")
            ax.plot(depths, s[list(OFFSETS).index(800.0)], "s--", color=colours[mode], alpha=0.6,
                    label=f"{mode}, offset 800 m")
        ax.set_title(f"{g}: peak against depth", fontsize=10)
        ax.set_xlabel("reflector depth (m)")
        ax.axhline(1.0, color="k", lw=0.5)
        ax = axes[1, col]
        for mode in MODES:
            s = scaled(mode, g, results[(mode, g)])
            for k, (z, marker) in enumerate(zip(depths, "o^s")):
                ax.plot(OFFSETS, s[:, k], marker + "-", color=colours[mode], alpha=0.4 + 0.2 * k, ms=4,
                        label=f"{mode}, {z:g} m")
        ax.set_title(f"{g}: peak against offset (common-image gather)", fontsize=10)
        ax.set_xlabel("offset (m)")
        ax.axhline(1.0, color="k", lw=0.5)
    axes[0, 0].set_ylabel("imaged peak / R (true amplitude)\nor / shallow zero-offset peak (standard)")
    axes[1, 0].set_ylabel("same scales")
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=6, ncol=2)
    for ax in axes.ravel():
        ax.set_ylim(0.0, 1.3)
        ax.grid(alpha=0.3)
    fig.suptitle("Three reflectors of equal R = 0.1 (400, 700, 1000 m; 2000 m/s): true-amplitude weights image "
                 "them at R at every depth and offset; standard weights dim them as 1/t", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs/images/amplitudes.png"
    results = measure()
    print(tables(results))
    for g in ("3d", "2.5d", "2d"):
        fits = avo_fit(g)
        print(f"\nAVO {g} (A = 0.1, B = -0.15): " + "; ".join(f"{z:g} m: A {a:.4f}, B {b:.4f}"
                                                           for z, (a, b) in zip(KNOWN_ANSWER['depths_m'], fits)))
    picture(results, out)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
