"""Data structures shared by every kernel, and the quantities they all derive.

Conventions (all kernels):

* Coordinates in metres, in a local frame (a tile's origin subtracted) so that
  single-precision kernels keep their accuracy.
* Times in seconds inside kernels (the workflow speaks milliseconds).
* Each input trace is taken as zero one sample before its first sample and
  one sample after its last, and read by interpolation in between.  So a
  *contribution* is one (pillar, trace, output sample) triple whose midpoint
  distance is within the time-variant aperture and whose two-way time ``t``
  satisfies ``t > 0`` and ``t_first - dt < t < t_first + n_samples * dt``.
  The trace is continuous across those edges, so kernels of different
  precision agree there up to rounding (a hard cut at the last sample would
  make one contribution flip in or out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: Weight modes (``migration.weights``).
WEIGHTS = ("standard", "true_amplitude")

#: Geometry forms of the true-amplitude weights (``migration.weight_geometry`` without ``auto``).
WEIGHT_GEOMETRIES = ("3d", "2.5d", "2d")


class KernelUnavailable(RuntimeError):
    """The chosen kernel cannot run here (a missing module, device or instruction set)."""


class KernelOptionError(ValueError):
    """A kernel cannot honour an imaging option that the settings switch on."""


@dataclass(frozen=True)
class TraceGather:
    """Prestack traces handed to a kernel.

    Attributes
    ----------
    amplitudes : ndarray, shape (n_traces, n_samples), float32
        Trace samples.
    source_x, source_y, receiver_x, receiver_y : ndarray, shape (n_traces,), float64
        Source and receiver coordinates (m, local frame).
    t_first_s : float
        Time of the first sample (s).
    dt_s : float
        Sample interval (s).
    """

    amplitudes: np.ndarray
    source_x: np.ndarray
    source_y: np.ndarray
    receiver_x: np.ndarray
    receiver_y: np.ndarray
    t_first_s: float
    dt_s: float

    @property
    def n_traces(self) -> int:
        return self.amplitudes.shape[0]

    @property
    def n_samples(self) -> int:
        return self.amplitudes.shape[1]

    def take(self, index) -> "TraceGather":
        """The traces ``index`` selects (an index array or a slice), same sampling."""
        return TraceGather(self.amplitudes[index], self.source_x[index], self.source_y[index],
                           self.receiver_x[index], self.receiver_y[index], self.t_first_s, self.dt_s)

    @property
    def midpoint_x(self) -> np.ndarray:
        return 0.5 * (self.source_x + self.receiver_x)

    @property
    def midpoint_y(self) -> np.ndarray:
        return 0.5 * (self.source_y + self.receiver_y)


@dataclass(frozen=True)
class PillarSet:
    """Output pillars (image points) of one tile.

    Attributes
    ----------
    x, y : ndarray, shape (n_pillars,), float64
        Pillar coordinates (m, local frame).
    twt_s : ndarray, shape (n_times,), float64
        Output two-way times t0 (s), increasing.
    vrms : ndarray, shape (n_pillars, n_times), float64
        RMS velocity at each pillar and output time (m/s).
    eta : ndarray, shape (n_pillars, n_times), or None
        VTI anellipticity eta at each pillar and time; None means isotropic (0).
    """

    x: np.ndarray
    y: np.ndarray
    twt_s: np.ndarray
    vrms: np.ndarray
    eta: np.ndarray | None = None

    @property
    def n_pillars(self) -> int:
        return self.x.shape[0]

    @property
    def n_times(self) -> int:
        return self.twt_s.shape[0]

    def rows(self, index: slice) -> "PillarSet":
        """The pillars ``index`` selects (a slice: views, no copies), same times."""
        return PillarSet(self.x[index], self.y[index], self.twt_s, self.vrms[index],
                         None if self.eta is None else self.eta[index])


def pillar_ranges(n_pillars: int, progress=None):
    """Ranges of pillars a kernel runs one after another: all at once without ``progress``, else the
    ranges of :meth:`pstm.progress.PillarProgress.ranges` (the kernel calls ``progress.advance`` after each).
    """
    if progress is None:
        return [slice(0, n_pillars)]
    return progress.ranges(n_pillars)


@dataclass(frozen=True)
class KernelParams:
    """Scalar settings of the summation.

    Attributes
    ----------
    max_dip_deg : float
        Dip limit of the aperture (degrees).
    aperture_min_m, aperture_max_m : float
        Bounds of the aperture radius (m).
    taper_fraction : float
        Outer fraction of the aperture with a cosine taper (0 disables it).
    spreading : bool
        Apply the spreading weight 1 / (vrms * t).
    obliquity : bool
        Apply the obliquity weight t0 / t.
    interpolation : str
        Interpolation of the input traces.
    threads : int or None
        CPU threads for parallel kernels.
    sample_window, trace_sort, cache_block_traces, fast_sqrt :
        Speed switches (schema section ``optimization``); a kernel that cannot
        honour one raises ``ValueError``.
    mlx_memory_budget_mb : float
        Working-set bound of one MLX batch (MB).
    mlx_device : str
        ``auto``, ``cpu`` or ``gpu``.
    antialias : str
        ``none`` or ``triangle`` (Lumley, Claerbout and Bevc triangle filter).
    antialias_trace_spacing_m : float
        Input trace (midpoint) spacing that sets the triangle half-length (m).
    antialias_max_half_length : float
        Cap of the triangle half-length (samples).
    aperture_table : tuple of (twt_ms, radius_m) pairs, or None
        Time-to-aperture table used instead of the dip rule (still clipped to min/max).
    max_opening_angle_deg : float or None
        Largest opening angle between the source and receiver rays at the image point.
    stretch_mute : float or None
        Largest wavelet stretch ``1 / (dt/dt0) - 1`` admitted per contribution.
    weights : str
        ``standard`` (the spreading and obliquity switches below) or ``true_amplitude`` (the weights of
        :func:`true_amplitude_weight`, see :mod:`pstm.kernels.reference`).
    weight_geometry : str
        Form of the true-amplitude weights: ``3d`` (point sources, areal midpoints), ``2.5d`` (point-source
        data along a line) or ``2d`` (line-source data); ``auto`` until :func:`resolve_weights` picks one by the
        grid.  Ignored by ``standard``.
    midpoint_cell : float
        Midpoint area per trace of one offset (m^2, ``3d``) or midpoint length per trace (m, ``2.5d`` and ``2d``):
        the grid's bin, the element of the Kirchhoff integral the sum over traces approximates.
    angle_classes_deg : tuple of float or None
        Reflection-angle class edges (degrees, increasing, 0 .. 90): each contribution also goes to the class of
        its angle (half the opening angle between source and receiver rays) in the angle gathers (see
        :mod:`pstm.kernels.reference`).
    """

    max_dip_deg: float = 45.0
    aperture_min_m: float = 100.0
    aperture_max_m: float = 2500.0
    taper_fraction: float = 0.1
    spreading: bool = True
    obliquity: bool = True
    interpolation: str = "linear"
    threads: int | None = None
    sample_window: bool = True
    trace_sort: bool = True
    cache_block_traces: int = 256
    fast_sqrt: bool = False
    mlx_memory_budget_mb: float = 512.0
    mlx_device: str = "auto"
    antialias: str = "none"
    antialias_trace_spacing_m: float = 25.0
    antialias_max_half_length: float = 8.0
    aperture_table: tuple | None = None
    max_opening_angle_deg: float | None = None
    stretch_mute: float | None = None
    weights: str = "standard"
    weight_geometry: str = "auto"
    midpoint_cell: float = 1.0
    angle_classes_deg: tuple | None = None

    def __post_init__(self):
        if self.weights not in WEIGHTS:
            raise ValueError(f"unknown weights {self.weights!r}; valid: {', '.join(WEIGHTS)}")
        if self.weight_geometry not in ("auto",) + WEIGHT_GEOMETRIES:
            raise ValueError(f"unknown weight geometry {self.weight_geometry!r}; valid: auto, "
                             f"{', '.join(WEIGHT_GEOMETRIES)}")
        if self.weights == "true_amplitude" and not (self.spreading and self.obliquity):
            raise ValueError("weights true_amplitude replace the spreading and obliquity weights; leave "
                             "spreading and obliquity true (their default) or choose weights: standard")
        if not self.midpoint_cell > 0:
            raise ValueError(f"midpoint_cell {self.midpoint_cell} must be > 0 (m^2 in 3D, m along a line)")
        if self.angle_classes_deg is not None:
            edges = list(self.angle_classes_deg)
            if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0 or edges[-1] > 90:
                raise ValueError(f"angle classes {edges} must be at least two strictly increasing edges of the "
                                 "reflection angle in 0 .. 90 degrees")

    def extended_features(self, pillars: "PillarSet | None" = None) -> list[str]:
        """Options beyond linear interpolation and the plain dip aperture that are switched on."""
        used = []
        if self.interpolation != "linear":
            used.append(f"interpolation={self.interpolation}")
        if self.antialias != "none":
            used.append(f"antialias={self.antialias}")
        if self.aperture_table is not None:
            used.append("aperture_table")
        if self.max_opening_angle_deg is not None:
            used.append("max_opening_angle_deg")
        if self.stretch_mute is not None:
            used.append("stretch_mute")
        if pillars is not None and pillars.eta is not None and np.any(pillars.eta != 0):
            used.append("eta")
        if self.weights != "standard":
            used.append(f"weights={self.weights}")
        if self.angle_classes_deg is not None:
            used.append("angle_classes_deg")
        return used

    @classmethod
    def from_settings(cls, migration, threads: int | None = None, optimization=None, mlx=None,
                      trace_spacing_m: float = 25.0) -> "KernelParams":
        """Build from :class:`pstm.config.MigrationSettings` (and the optimization and mlx sections).

        ``trace_spacing_m`` is the anti-aliasing trace spacing used when the
        settings leave it null (the workflow passes the larger grid spacing).
        """
        opt = {}
        if optimization is not None:
            opt.update(sample_window=optimization.sample_window, trace_sort=optimization.trace_sort,
                       cache_block_traces=optimization.cache_block_traces, fast_sqrt=optimization.fast_sqrt)
        if mlx is not None:
            opt.update(mlx_memory_budget_mb=mlx.memory_budget_mb, mlx_device=mlx.device)
        return cls(
            **opt,
            max_dip_deg=migration.max_dip_deg,
            aperture_min_m=migration.aperture_min_m,
            aperture_max_m=migration.aperture_max_m,
            taper_fraction=migration.taper_fraction,
            spreading=migration.spreading,
            obliquity=migration.obliquity,
            interpolation=migration.interpolation,
            threads=migration.threads or threads,
            antialias=migration.antialias,
            antialias_trace_spacing_m=migration.antialias_trace_spacing_m or trace_spacing_m,
            antialias_max_half_length=migration.antialias_max_half_length,
            aperture_table=migration.aperture_table,
            max_opening_angle_deg=migration.max_opening_angle_deg,
            stretch_mute=migration.stretch_mute,
            weights=migration.weights,
            weight_geometry=migration.weight_geometry,
            angle_classes_deg=migration.angle_classes_deg,
        )


def padded_trace_limits(traces: "TraceGather") -> tuple[float, float]:
    """Open interval (s) of two-way times that read a zero-padded trace."""
    return traces.t_first_s - traces.dt_s, traces.t_first_s + traces.n_samples * traces.dt_s


def pad_traces(amplitudes: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Traces with one zero sample before the first and after the last, shape (n_traces, n_samples + 2)."""
    padded = np.zeros((amplitudes.shape[0], amplitudes.shape[1] + 2), dtype)
    padded[:, 1:-1] = amplitudes
    return padded


def aperture_radius(vrms: np.ndarray, twt_s: np.ndarray, params: KernelParams) -> np.ndarray:
    """Time-variant aperture radius ``clip(vrms * t0 / 2 * tan(max_dip), min, max)`` (m).

    With ``params.aperture_table`` the radius is that table interpolated at t0
    instead of the dip rule, clipped the same way.

    Parameters
    ----------
    vrms : ndarray, shape (..., n_times)
        RMS velocity (m/s).
    twt_s : ndarray, shape (n_times,)
        Output two-way time (s).
    params : KernelParams

    Returns
    -------
    ndarray, same shape as ``vrms``
    """
    if params.aperture_table is not None:
        table = np.asarray(params.aperture_table, dtype=np.float64).reshape(-1, 2)
        radius = np.broadcast_to(np.interp(twt_s * 1000.0, table[:, 0], table[:, 1]), np.shape(vrms))
        return np.clip(radius, params.aperture_min_m, params.aperture_max_m)
    depth = vrms * twt_s / 2.0
    return np.clip(depth * np.tan(np.radians(params.max_dip_deg)), params.aperture_min_m, params.aperture_max_m)


def max_useful_radius(vrms_max: float, twt_max_s: float, params: KernelParams) -> float:
    """Largest midpoint distance any contribution can have (m)."""
    if params.aperture_table is not None:
        table = np.asarray(params.aperture_table, dtype=np.float64).reshape(-1, 2)
        return float(np.clip(table[:, 1].max(), params.aperture_min_m, params.aperture_max_m))
    depth = vrms_max * twt_max_s / 2.0
    return float(np.clip(depth * np.tan(np.radians(params.max_dip_deg)), params.aperture_min_m, params.aperture_max_m))


def cosine_taper(distance: np.ndarray, aperture: np.ndarray, fraction: float) -> np.ndarray:
    """Cosine taper over the outer ``fraction`` of the aperture.

    1 for ``distance <= (1 - fraction) * aperture``, falling as
    ``0.5 * (1 + cos(pi * x))`` with ``x = (distance - (1 - fraction) * aperture) / (fraction * aperture)``
    to 0 at the aperture edge.
    """
    if fraction <= 0.0:
        return np.ones(np.broadcast(distance, aperture).shape)
    x = (distance - (1.0 - fraction) * aperture) / (fraction * aperture)
    x = np.clip(x, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


def taper_and_weight_coefficients(vrms: np.ndarray, twt_s: np.ndarray, aperture: np.ndarray, params: KernelParams):
    """Per-sample coefficients the compiled kernels use for the taper and the weights.

    The taper argument is ``x = distance * taper_q - taper_c`` (clipped to [0, 1]; both 0 when
    ``taper_fraction`` is 0, so the taper is 1), and the weight is ``wcoef * (1/t)^power`` with
    ``wcoef = (1/vrms if spreading) * (t0 if obliquity)`` and ``power`` the number of those on.

    Returns
    -------
    taper_q : ndarray, like ``aperture`` (1/m)
    taper_c : float
    wcoef : ndarray, like ``vrms``
    power : int
    """
    tf = params.taper_fraction
    if tf > 0:
        taper_q = 1.0 / (tf * aperture)
        taper_c = (1.0 - tf) / tf
    else:
        taper_q = np.zeros_like(aperture)
        taper_c = 0.0
    wcoef = np.ones_like(vrms)
    power = 0
    if params.spreading:
        wcoef = wcoef / vrms
        power += 1
    if params.obliquity:
        wcoef = wcoef * twt_s
        power += 1
    return taper_q, taper_c, wcoef, power


def resolve_weights(params: KernelParams, is_2d: bool, bin_area_m2: float, line_spacing_m: float) -> KernelParams:
    """``params`` with the weight geometry and the midpoint cell of a grid.

    ``auto`` becomes ``2.5d`` on a 2D line (one inline or one crossline, as for the rho filter) and ``3d``
    else; the midpoint cell is ``bin_area_m2`` (the inline times crossline spacing, m^2) for ``3d`` and
    ``line_spacing_m`` (the pillar spacing along the line, m) for ``2.5d`` and ``2d``.
    """
    import dataclasses

    geometry = params.weight_geometry
    if geometry == "auto":
        geometry = "2.5d" if is_2d else "3d"
    cell = bin_area_m2 if geometry == "3d" else line_spacing_m
    return dataclasses.replace(params, weight_geometry=geometry, midpoint_cell=float(cell))


def angle_gather_arrays(params: KernelParams, n_pillars: int, n_times: int, dtype=np.float64) -> dict:
    """Zeroed ``angle_image`` and ``angle_fold``, shape (n_angle_classes, n_pillars, n_times), for a kernel call
    with ``params.angle_classes_deg`` (keyword arguments of ``migrate``); empty without angle classes."""
    if params.angle_classes_deg is None:
        return {}
    shape = (len(params.angle_classes_deg) - 1, n_pillars, n_times)
    return {"angle_image": np.zeros(shape, dtype), "angle_fold": np.zeros(shape, dtype)}


#: Rho filter the true-amplitude weights of each geometry are derived for (see :mod:`pstm.preprocess`).
TRUE_AMPLITUDE_RHO = {"3d": "anticausal_derivative", "2.5d": "anticausal_half_derivative", "2d": "ramp"}


def angle_cell_radius(params: KernelParams) -> float:
    """Midpoint distance (m) within which a trace belongs to the pillar's own cell (for ``angle_fold``)."""
    if params.weight_geometry == "3d":
        return float(np.sqrt(params.midpoint_cell / np.pi))
    return 0.5 * params.midpoint_cell


def check_angle_outputs(params: KernelParams, pillars: PillarSet, angle_image, angle_fold) -> None:
    """Angle gathers asked for (``angle_classes_deg``) need both outputs of shape (n_classes, n_pillars, n_times)."""
    if params.angle_classes_deg is None:
        return
    shape = (len(params.angle_classes_deg) - 1, pillars.n_pillars, pillars.n_times)
    for name, a in (("angle_image", angle_image), ("angle_fold", angle_fold)):
        if a is None or a.shape != shape:
            raise ValueError(f"angle_classes_deg needs {name} of shape {shape}, "
                             f"got {None if a is None else a.shape}")
    if params.weight_geometry == "auto":
        raise ValueError("angle gathers need a resolved weight geometry for their cell (resolve_weights)")


def true_amplitude_constants(params: KernelParams, dt_s: float) -> tuple[float, int]:
    """The constant ``c`` and form ``k`` of the true-amplitude weight (see :func:`true_amplitude_weight`).

    ``k = 1``: ``W = c t0 / (vrms t)`` (``3d``: ``c = 8 A / dt``; ``2d``: ``c = 4 dx / dt``);
    ``k = 2``: ``W = c t0 / sqrt(t)`` (``2.5d``: ``c = 4 sqrt(2 pi) dx / sqrt(dt)``), with ``A`` or ``dx`` the
    midpoint cell (m^2 or m) and ``dt`` the input sample interval (s; the rho filter is per sample).
    """
    geometry = params.weight_geometry
    cell = params.midpoint_cell
    if geometry == "3d":
        return 8.0 * cell / dt_s, 1
    if geometry == "2d":
        return 4.0 * cell / dt_s, 1
    if geometry == "2.5d":
        return 4.0 * np.sqrt(2.0 * np.pi) * cell / np.sqrt(dt_s), 2
    raise ValueError(f"true-amplitude weights need a resolved weight geometry (3d, 2.5d or 2d), not {geometry!r}; "
                     "resolve it with pstm.kernels.common.resolve_weights")


def true_amplitude_weight(t0: np.ndarray, t: np.ndarray, vrms: np.ndarray, params: KernelParams,
                          dt_s: float) -> np.ndarray:
    """The true-amplitude weight of each contribution (see :mod:`pstm.kernels.reference` for its derivation).

    Parameters
    ----------
    t0, t, vrms : ndarray, broadcast together
        Output two-way time (s), the contribution's two-way time (s) and the RMS velocity (m/s).
    params : KernelParams
        With a resolved ``weight_geometry`` and ``midpoint_cell``.
    dt_s : float
        Input sample interval (s).
    """
    c, form = true_amplitude_constants(params, dt_s)
    if form == 1:
        return c * t0 / (vrms * t)
    return c * t0 / np.sqrt(t)
