"""The whole chain with each backend: same image within float32 tolerance, and the path in provenance."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline_util import run_pipeline

CONFIG = {
    "synthetic": {"extent_x_m": [-200.0, 600.0], "extent_y_m": [-200.0, 600.0], "patch_half_width_m": 300.0,
                  "n_samples": 120, "diffractors": [[200.0, 200.0, 250.0]], "reflector": {"enabled": False}},
    "grid": {"tile_size": 40},
    "migration": {"aperture_max_m": 300.0},
}


@pytest.fixture(scope="module")
def numba_image(tmp_path_factory):
    return run_pipeline(tmp_path_factory.mktemp("numba"), CONFIG)["image"]


@pytest.mark.parametrize("kernel,path", [("mlx", "cpu-vectorized"), ("hybrid", "numba")])
def test_backend_matches_numba_and_records_its_path(tmp_path, numba_image, kernel, path):
    cfg = {**CONFIG, "migration": {**CONFIG["migration"], "kernel": kernel}}
    image = run_pipeline(tmp_path, cfg)["image"]
    ref = numba_image["data"].values
    assert np.abs(image["data"].values - ref).max() <= 1e-4 * np.abs(ref).max()
    np.testing.assert_array_equal(image["fold"].values, numba_image["fold"].values)
    assert image.attrs["pstm_kernel"] == kernel
    assert path in image.attrs["kernel_paths"]
