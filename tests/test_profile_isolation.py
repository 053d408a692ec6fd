"""The profile's optional measurements never take the run down: a comparison that cannot run is reported."""

from __future__ import annotations

import os

from conftest import pillar_block, random_traces
from pstm.kernels.common import KernelParams
from pstm.profile import measure_tile, measure_tile_isolated, measurements_markdown


class _AbortsWhenLoaded:
    """Unpickled in the measuring process, it aborts that process (as LLVM does on an unknown intrinsic)."""

    def __reduce__(self):
        return (os.abort, ())


def test_a_crashing_measurement_is_reported_not_fatal():
    result = measure_tile_isolated(_AbortsWhenLoaded(), None, None, timeout_s=120)
    assert "SIGABRT" in result["unavailable"]
    text = measurements_markdown(result)
    assert "Measurements unavailable" in text and "SIGABRT" in text


def test_an_exception_in_the_measurement_is_reported():
    result = measure_tile_isolated(None, None, None, timeout_s=120)
    assert result["unavailable"].startswith("AttributeError")


def test_a_kernel_that_cannot_run_gets_its_reason_in_the_table():
    traces = random_traces(n_traces=200, n_samples=80, seed=5)
    pillars = pillar_block(4, 4, n_times=60)
    params = KernelParams(aperture_max_m=800.0, mlx_device="gpu")  # no GPU here: mlx refuses
    m = measure_tile(traces, pillars, params, n_pillars=16, repeats=1)
    assert m["interpolations"]["linear"]["contributions_per_second"] > 0
    assert m["kernels"]["numba"]["contributions_per_second"] > 0
    text = measurements_markdown(m)
    assert m["compiled_for"]["instruction_set"] in text
    if "unavailable" in m["kernels"]["mlx"]:
        assert "| mlx | unavailable: " in text
