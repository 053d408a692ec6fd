"""True-amplitude weights against known answers built from wave physics (pstm.modelling), not from pstm's adjoint.

Data: the image source's direct wave ``R w(t - r/v) / (4 pi r)`` (3D point sources, and 2.5D: point sources
along a line) and the 2D line-source Green's function (2D), for horizontal reflectors at 400, 700 and 1000 m in
2000 m/s, a 25 Hz Ricker wavelet (peak 1).  One output pillar at the CMP over common-offset sections of one
trace per midpoint cell; the imaged peak over R must be 1 (the documented constant) in every geometry.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from pstm.config import ConfigError, validate_config
from pstm.kernels.common import KernelParams, PillarSet, TraceGather
from pstm.kernels.registry import KERNELS, KernelOptionError, check_kernel_options, get_kernel
from pstm.modelling import KNOWN_ANSWER, image_at_cmp, linear_avo, reflector_peaks

V = KNOWN_ANSWER["velocity_m_s"]
DEPTHS = KNOWN_ANSWER["depths_m"]
TWT = KNOWN_ANSWER["twt_s"]
R = 0.1


def image_offset(geometry, offset, reflectivity=(R, R, R), weights="true_amplitude", kernel="reference",
                 angle_classes_deg=None):
    """Migrated trace (n_times,) at the CMP (0, 0) of one common-offset section (and its angle gathers)."""
    return image_at_cmp(geometry, offset, reflectivity, weights, kernel, angle_classes_deg)


peaks = reflector_peaks


@functools.lru_cache(maxsize=None)
def offset_peaks(geometry, weights="true_amplitude"):
    """Peaks (n_offsets, 3 reflectors) for offsets 0, 400, 800 m."""
    return np.array([peaks(image_offset(geometry, h, weights=weights)[0]) for h in OFFSETS])


OFFSETS = (0.0, 400.0, 800.0)


@pytest.mark.parametrize("geometry", ["3d", "2.5d", "2d"])
def test_equal_reflectors_image_equal_at_every_depth_and_offset_at_scale_one(geometry):
    """Three reflectors of equal R: peaks within 5 % of each other and of R (imaged amplitude / R = 1), at every
    offset (the common-image gather is flat in amplitude)."""
    ratio = offset_peaks(geometry) / R
    assert np.all(np.abs(ratio - 1.0) < 0.05), ratio
    for row in ratio:  # across depth
        assert row.max() / row.min() < 1.05, row
    for col in ratio.T:  # across offset
        assert col.max() / col.min() < 1.05, col


@pytest.mark.parametrize("geometry", ["3d", "2d"])
def test_standard_weights_dim_deeper_reflectors(geometry):
    """The standard weights (spreading 1/(vrms t), obliquity t0/t) give the deeper reflectors less amplitude, by
    about t_shallow / t_deep at zero offset (the true-amplitude weight is t times theirs): the difference shown."""
    standard = offset_peaks(geometry, "standard")[0]
    expected = np.array(DEPTHS[0]) / np.array(DEPTHS)  # t0 ratio at zero offset
    assert np.allclose(standard / standard[0], expected, rtol=0.05), standard / standard[0]
    assert standard[-1] / standard[0] < 0.45


@pytest.mark.parametrize("geometry", ["3d", "2d"])
def test_avo_intercept_and_gradient_come_back(geometry):
    """R = A + B sin^2(theta) with A = 0.1, B = -0.15: the CIG peaks fitted against sin^2(theta) at the
    specular point give A and B within 10 %, for each reflector; the angle gathers (same pass) give R(theta)
    within 10 % of the truth at the classes' traces."""
    A, B = 0.1, -0.15
    offsets = np.array([0.0, 300.0, 600.0, 900.0, 1200.0])
    rows = [image_offset(geometry, h, reflectivity=[linear_avo(A, B)] * 3) for h in offsets]
    p = np.array([peaks(r[0]) for r in rows])
    for k, z in enumerate(DEPTHS):
        sin2 = (offsets / 2) ** 2 / (z**2 + (offsets / 2) ** 2)
        b, a = np.polyfit(sin2, p[:, k], 1)
        assert abs(a / A - 1) < 0.10 and abs(b / B - 1) < 0.10, (z, a, b)


def test_angle_gathers_read_r_per_angle():
    """Angle gathers from the same pass: angle_image / angle_fold at the reflector is R of that class's
    trace, within 10 % (2D, one offset per class)."""
    A, B = 0.1, -0.15
    edges = (0.0, 5.0, 20.0, 30.0, 40.0)
    z = DEPTHS[1]
    total = np.zeros((len(edges) - 1, TWT.size))
    fold = np.zeros_like(total)
    expected = {}
    for h in (0.0, 500.0, 900.0):
        theta = np.degrees(np.arctan(h / 2 / z))
        c = int(np.searchsorted(edges, theta, side="right") - 1)
        expected[c] = A + B * np.sin(np.radians(theta)) ** 2
        _, angles = image_offset("2d", h, reflectivity=[linear_avo(A, B)] * 3, angle_classes_deg=edges)
        total += angles["angle_image"][:, 0]
        fold += angles["angle_fold"][:, 0]
    k = int(round(2.0 * z / V / 0.002))
    for c, r in expected.items():
        assert fold[c, k] == 1.0
        measured = (total[c, k - 10:k + 11] / fold[c, k]).max()
        assert abs(measured / r - 1) < 0.10, (c, measured, r)


def parity_kernels():
    return [k for k, spec in KERNELS.items() if "weights" in spec.features and k != "reference"]


@pytest.mark.parametrize("kernel", parity_kernels())
@pytest.mark.parametrize("geometry", ["3d", "2.5d", "2d"])
def test_true_amplitude_and_angle_gathers_match_reference(kernel, geometry):
    """Every kernel that honours true-amplitude weights and angle gathers equals the reference kernel."""
    from conftest import assert_matches_reference

    rng = np.random.default_rng(7)
    n, ns = 200, 300
    traces = TraceGather(rng.standard_normal((n, ns)).astype(np.float32), *rng.uniform(-700, 700, (4, n)), 0.0,
                         0.004)
    twt = np.arange(0.0, 1.2, 0.004)
    pillars = PillarSet(rng.uniform(-200, 200, 5), rng.uniform(-200, 200, 5), twt,
                        np.full((5, twt.size), 2100.0) + np.linspace(0.0, 900.0, twt.size))
    params = KernelParams(weights="true_amplitude", weight_geometry=geometry, midpoint_cell=2500.0,
                          angle_classes_deg=(0.0, 10.0, 20.0, 30.0, 45.0))
    out = {}
    for name in ("reference", kernel):
        image, fold = np.zeros((5, twt.size)), np.zeros((5, twt.size))
        angle_image, angle_fold = np.zeros((4, 5, twt.size)), np.zeros((4, 5, twt.size))
        get_kernel(name)(traces, pillars, params, image, fold, angle_image=angle_image, angle_fold=angle_fold)
        out[name] = image, fold, angle_image, angle_fold
    ref, got = out["reference"], out[kernel]
    assert_matches_reference(got[0], ref[0], got[1], ref[1], tolerance=1e-9)
    assert_matches_reference(got[2], ref[2], tolerance=1e-9)
    assert np.array_equal(got[3], ref[3])


def test_default_stays_on_the_fast_path_and_true_amplitude_goes_general():
    """The default (standard weights) has no extended feature, so numba's linear path computes it as before;
    true-amplitude weights and angle gathers are extended features the general path honours."""
    from pstm.kernels.numba_kernel import choose_path

    assert KernelParams().extended_features() == []
    assert choose_path(KernelParams()) == "linear"
    assert choose_path(KernelParams(weights="true_amplitude", weight_geometry="3d")) == "general"
    assert choose_path(KernelParams(angle_classes_deg=(0.0, 30.0), weight_geometry="3d")) == "general"


@pytest.mark.parametrize("kernel", ["mlx", "hybrid"])
def test_kernels_that_cannot_refuse(kernel):
    for option in ("weights=true_amplitude", "angle_classes_deg"):
        with pytest.raises(KernelOptionError, match=option.split("=")[0]):
            check_kernel_options(kernel, [option])


def test_contradicting_options_are_refused():
    with pytest.raises(ValueError, match="spreading and obliquity"):
        KernelParams(weights="true_amplitude", spreading=False)
    with pytest.raises(ValueError, match="unknown weights"):
        KernelParams(weights="unit")
    with pytest.raises(ValueError, match="resolved weight geometry"):
        image_offset_unresolved()


def image_offset_unresolved():
    traces = TraceGather(np.zeros((1, 10), np.float32), *np.zeros((4, 1)), 0.0, 0.004)
    pillars = PillarSet(np.zeros(1), np.zeros(1), np.arange(10) * 0.004, np.full((1, 10), 2000.0))
    get_kernel("reference")(traces, pillars, KernelParams(weights="true_amplitude"), np.zeros((1, 10)),
                            np.zeros((1, 10)))


@pytest.mark.parametrize("migration, message", [
    ({"weights": "true_amplitude", "spreading": False}, "migration.spreading false contradicts it"),
    ({"weights": "true_amplitude", "rho_filter": "derivative"}, "rho_filter 'derivative' contradicts it"),
    ({"angle_classes_deg": [10, 5]}, "angle_classes_deg"),
    ({"angle_classes_deg": [0, 95]}, "angle_classes_deg"),
    ({"weights": "true_amplitude", "kernel": "mlx"}, "cannot honour weights"),
    ({"weights": "loud"}, "weights"),
    ({"weight_geometry": "4d"}, "weight_geometry"),
])
def test_config_refuses_bad_values(migration, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({"migration": migration}, "test.yaml")


def test_tile_carries_angle_gathers_and_reruns_when_the_weights_change(tmp_path):
    """migrate_tile writes angle gathers on dim ``angle`` (class centres, edges) with their fold; the tile's
    settings hash changes with the weights and the classes; assembly keeps them in the image."""
    from segy_util import MIGRATION, migrate_file, write_diffractor_survey

    from pstm import stages
    from pstm.assemble import assemble_image
    from pstm.index import grid_of
    from pstm.io.netcdf import read_dataset

    segy = write_diffractor_survey(tmp_path / "survey.sgy")
    base = migrate_file(segy, tmp_path / "standard")
    mig = {**MIGRATION, "weights": "true_amplitude", "angle_classes_deg": [0, 15, 30, 45]}
    traces = tmp_path / "standard" / "tile_traces.nc"
    stages.migrate_tile(str(traces), str(tmp_path / "ta.nc"), migration=mig, velocity={"kind": "table",
                        "table": [[0.0, 1800.0], [1500.0, 2800.0]]})
    ta = read_dataset(tmp_path / "ta.nc")
    assert ta["angle_gather"].dims == ("angle", "iline", "xline", "twt")
    assert list(ta["angle"].values) == [7.5, 22.5, 37.5] and list(ta["angle_max"].values) == [15, 30, 45]
    assert ta["angle_fold"].values.sum() > 0
    assert ta.attrs["weights"] == "true_amplitude" and ta.attrs["weight_geometry"] == "3d"
    assert ta.attrs["rho_filter"] == "anticausal_derivative"
    assert ta.attrs["pstm_config_hash"] != base.attrs["pstm_config_hash"]
    stages.migrate_tile(str(traces), str(tmp_path / "ta2.nc"), migration={**mig, "angle_classes_deg": [0, 20, 45]},
                        velocity={"kind": "table", "table": [[0.0, 1800.0], [1500.0, 2800.0]]})
    assert read_dataset(tmp_path / "ta2.nc").attrs["pstm_config_hash"] != ta.attrs["pstm_config_hash"]
    image = assemble_image(grid_of(ta), [ta])
    assert image["angle_gather"].shape == (3, 9, 9, ta.sizes["twt"])
    assert np.array_equal(image["angle_fold"].values, ta["angle_fold"].values)
    assert "standard" == dataclasses.asdict(KernelParams())["weights"]


@pytest.mark.workflow
def test_workflow_writes_angle_gathers_and_their_picture(tmp_path):
    """The Snakemake workflow with true-amplitude weights and angle classes: image.nc holds the angle gathers on
    dim ``angle`` beside the stack, with the units of true amplitudes, and qc/angle_gathers.png is made."""
    import xarray as xr
    from test_workflow import TINY, run_snakemake

    config = {**TINY, "migration": {**TINY["migration"], "weights": "true_amplitude",
                                    "angle_classes_deg": [0, 15, 30, 45]}}
    proc = run_snakemake(tmp_path, config)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    image = xr.load_dataset(tmp_path / "results" / "image.nc")
    assert image["angle_gather"].dims == ("angle", "iline", "xline", "twt")
    assert list(image["angle"].values) == [7.5, 22.5, 37.5]
    assert image["angle_fold"].values.sum() > 0 and np.isfinite(image["angle_gather"].values).all()
    assert image["data"].attrs["units"] == "input amplitude units x m"
    assert (tmp_path / "results" / "qc" / "angle_gathers.png").stat().st_size > 10_000
