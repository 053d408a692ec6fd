"""QC: where the pictures cut, the reflector scored only where data lie, figures that do not round outliers away."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pstm.geometry import OutputGrid
from pstm.qc import choose_sections, focus_markdown, percent, reflector_error, scored_pillars
from pstm.synthetic import plane_t0_ms, ricker

REFLECTOR = {"t0_ms": 300.0, "x0_m": 0.0, "y0_m": 0.0, "dip_x_ms_per_m": 0.1, "dip_y_ms_per_m": 0.0}


def test_percent_never_rounds_to_all_or_nothing():
    assert percent(4165, 4166) == "99.98 %"
    assert percent(99976, 100000) == "99.98 %"  # the 0.99976 of the issue: not "100.0 %"
    assert percent(99999, 100000) == "99.999 %"
    assert percent(10, 10) == "100.0 %" and percent(0, 7) == "0.0 %"
    assert percent(1, 100000) == "0.001 %"
    assert percent(1, 3) == "33.3 %"


def image_with_plane(grid: OutputGrid, covered: np.ndarray, noise_seed: int = 0) -> xr.Dataset:
    """A Ricker wavelet on the plane at covered pillars; elsewhere a stronger event at a wrong time."""
    twt = np.arange(0.0, 800.0, 4.0)
    x, y = grid.cdp_xy()
    t0 = plane_t0_ms(REFLECTOR, x, y)
    data = ricker((twt[None, None, :] - t0[..., None]) / 1000.0, 25.0)
    wrong = ricker((twt[None, None, :] - 700.0) / 1000.0, 25.0) * 3.0  # where no data lie: not the plane
    data = np.where(covered[..., None], data, wrong).astype(np.float32)
    return xr.Dataset({"data": (("iline", "xline", "twt"), data)},
                      coords={"iline": grid.inlines, "xline": grid.crosslines, "twt": twt,
                              "cdp_x": (("iline", "xline"), x), "cdp_y": (("iline", "xline"), y)})


def test_reflector_is_scored_only_where_data_lie_under_it():
    """A grid grown beyond the survey: the pillars without midpoints (and those within 4 bins of the data's
    edge) are not scored, so the plane fits everywhere it is scored."""
    grid = OutputGrid(0.0, 0.0, 25.0, 25.0, 0.0, 30, 40)
    cmp_fold = np.zeros((30, 40), int)
    cmp_fold[:20, :25] = 12  # the survey covers part of the grid
    ds = image_with_plane(grid, cmp_fold > 0)
    scored = reflector_error(ds, grid, REFLECTOR, cmp_fold)
    assert scored["pillars"] == (20 - 8) * (25 - 8)  # 4 bins inside the data all round (its edge at i = 0 too)
    assert scored["within_2_samples"] == scored["pillars"] and scored["max_abs_error_samples"] <= 1.0
    blind = reflector_error(ds, grid, REFLECTOR)  # as before: the whole grid counted as data
    assert blind["pillars"] > scored["pillars"] and blind["max_abs_error_samples"] > 10
    mask = scored_pillars((30, 40), cmp_fold)
    assert mask[4:16, 4:21].all() and not mask[:, 21:].any() and not mask[16:].any()


def test_focus_table_gives_counts_and_the_worst_pillar():
    report = {"diffractors": [], "reflector": {
        "pillars": 4166, "pillars_in_grid": 5329, "mean_error_samples": 0.01, "max_abs_error_samples": 10.0,
        "worst_iline": 40, "worst_xline": 7, "within_2_samples": 4165, "within_2_samples_fraction": 4165 / 4166}}
    text = focus_markdown(report)
    assert "4165 of 4166 (99.98 %)" in text and "| 1 |" in text and "40, 7" in text and "100.0 %" not in text
    assert "4166 pillars with data under them" in text and "grid's 5329" in text


def test_sections_cut_through_the_truth_else_the_strongest_event():
    grid = OutputGrid(100.0, 200.0, 25.0, 25.0, 0.0, 12, 15, first_inline=101, first_crossline=501)
    twt = np.arange(0.0, 400.0, 4.0)
    data = np.zeros((12, 15, twt.size), np.float32)
    data[3, 11, 60] = -5.0  # strongest: a trough
    data[7, 2, 20] = 2.0
    x, y = grid.cdp_xy()
    ds = xr.Dataset({"data": (("iline", "xline", "twt"), data)},
                    coords={"iline": grid.inlines, "xline": grid.crosslines, "twt": twt,
                            "cdp_x": (("iline", "xline"), x), "cdp_y": (("iline", "xline"), y)})
    cut = choose_sections(ds, grid, {})
    assert (cut["inline"], cut["crossline"], cut["time_ms"]) == (104, 512, 240.0)
    assert "largest absolute amplitude" in cut["why"]
    tx, ty = grid.xy(7, 2)
    truth = {"diffractors": [{"x_m": 1e6, "y_m": 0.0, "t0_ms": 80.0},  # outside the grid: skipped
                             {"x_m": float(tx), "y_m": float(ty), "t0_ms": 81.0}]}
    cut = choose_sections(ds, grid, {}, truth)
    assert (cut["inline"], cut["crossline"], cut["time_ms"]) == (108, 503, 80.0) and "diffractor 2" in cut["why"]
    cut = choose_sections(ds, grid, {"inline": 110, "time_slice_ms": 101.0}, truth)
    assert (cut["inline"], cut["crossline"], cut["time_ms"]) == (110, 503, 100.0)
    with pytest.raises(KeyError):
        choose_sections(ds.rename({"data": "image"}), grid, {})
