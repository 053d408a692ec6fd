"""Output grid, pillars and tiles.

Pillar (i, j) sits at ``origin + i * inline_spacing * e_il + j * crossline_spacing * e_xl``
where ``e_il = (sin az, cos az)`` points in the direction of increasing inline
number (azimuth ``az`` clockwise from north) and ``e_xl = (cos az, -sin az)``
is 90 degrees clockwise from it.  Index ``i`` runs over inlines (dimension
``iline``), ``j`` over crosslines (dimension ``xline``).

Tiles hold ``tile_size x tile_size`` pillars; tile (ti, tj) covers
``i in [ti * tile_size, (ti + 1) * tile_size)`` and likewise for j, so tile
ids are tied to the grid origin: a grid grown at its far end keeps the ids
and contents of the old tiles.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np

from pstm.config import MAX_TILES, GridSettings, grid_size_problem


class GridError(ValueError):
    """The output grid cannot be built or does not fit the data."""


class GridSizeError(GridError):
    """The grid would have more pillars or tiles than allowed; ``n_inlines`` and ``n_crosslines`` say how many."""

    def __init__(self, message: str, n_inlines: int, n_crosslines: int):
        super().__init__(message)
        self.n_inlines, self.n_crosslines = n_inlines, n_crosslines




@dataclass(frozen=True)
class Tile:
    """A block of pillars: inline indices [i0, i1), crossline indices [j0, j1)."""

    ti: int
    tj: int
    i0: int
    i1: int
    j0: int
    j1: int

    @property
    def id(self) -> str:
        return f"{self.ti:03d}_{self.tj:03d}"

    @property
    def shape(self) -> tuple[int, int]:
        return (self.i1 - self.i0, self.j1 - self.j0)


TILE_ID = re.compile(r"^(\d{3,})_(\d{3,})$")


@dataclass(frozen=True)
class OutputGrid:
    """A rotated regular grid of output pillars (see the module docstring)."""

    origin_x: float
    origin_y: float
    inline_spacing: float
    crossline_spacing: float
    azimuth_deg: float
    n_inlines: int
    n_crosslines: int
    first_inline: int = 1
    first_crossline: int = 1
    tile_size: int = 16

    @property
    def e_il(self) -> np.ndarray:
        az = math.radians(self.azimuth_deg)
        return np.array([math.sin(az), math.cos(az)])

    @property
    def e_xl(self) -> np.ndarray:
        az = math.radians(self.azimuth_deg)
        return np.array([math.cos(az), -math.sin(az)])

    @property
    def inlines(self) -> np.ndarray:
        return self.first_inline + np.arange(self.n_inlines)

    @property
    def crosslines(self) -> np.ndarray:
        return self.first_crossline + np.arange(self.n_crosslines)

    def xy(self, i, j) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates (m) of pillars at (possibly fractional) indices i, j."""
        i = np.asarray(i, dtype=np.float64)
        j = np.asarray(j, dtype=np.float64)
        x = self.origin_x + i * self.inline_spacing * self.e_il[0] + j * self.crossline_spacing * self.e_xl[0]
        y = self.origin_y + i * self.inline_spacing * self.e_il[1] + j * self.crossline_spacing * self.e_xl[1]
        return x, y

    def ij(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (i, j) indices of points (x, y)."""
        dx = np.asarray(x, dtype=np.float64) - self.origin_x
        dy = np.asarray(y, dtype=np.float64) - self.origin_y
        i = (dx * self.e_il[0] + dy * self.e_il[1]) / self.inline_spacing
        j = (dx * self.e_xl[0] + dy * self.e_xl[1]) / self.crossline_spacing
        return i, j

    def cdp_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of every pillar, each shape (n_inlines, n_crosslines)."""
        i, j = np.meshgrid(np.arange(self.n_inlines), np.arange(self.n_crosslines), indexing="ij")
        return self.xy(i, j)

    @property
    def n_tiles(self) -> tuple[int, int]:
        ts = self.tile_size
        return (-(-self.n_inlines // ts), -(-self.n_crosslines // ts))

    def tiles(self) -> list[Tile]:
        """Every tile of the grid, in (ti, tj) order."""
        nti, ntj = self.n_tiles
        return [self.tile_at(ti, tj) for ti in range(nti) for tj in range(ntj)]

    def tile_at(self, ti: int, tj: int) -> Tile:
        ts = self.tile_size
        nti, ntj = self.n_tiles
        if not (0 <= ti < nti and 0 <= tj < ntj):
            raise GridError(f"tile ({ti}, {tj}) is outside the grid of {nti} x {ntj} tiles")
        return Tile(ti, tj, ti * ts, min((ti + 1) * ts, self.n_inlines), tj * ts, min((tj + 1) * ts, self.n_crosslines))

    def tile(self, tile_id: str) -> Tile:
        """The tile with id ``'TTT_TTT'`` (inline tile, crossline tile)."""
        m = TILE_ID.match(tile_id)
        if not m:
            raise GridError(f"bad tile id {tile_id!r}; expected two zero-padded numbers like '000_001'")
        return self.tile_at(int(m.group(1)), int(m.group(2)))

    def tile_pillars(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """Pillar coordinates of a tile, each shape (n_i, n_j)."""
        i, j = np.meshgrid(np.arange(tile.i0, tile.i1), np.arange(tile.j0, tile.j1), indexing="ij")
        return self.xy(i, j)

    def tile_centre(self, tile: Tile) -> tuple[float, float]:
        x, y = self.xy((tile.i0 + tile.i1 - 1) / 2.0, (tile.j0 + tile.j1 - 1) / 2.0)
        return float(x), float(y)

    def tile_half_diagonal(self, tile: Tile) -> float:
        ni, nj = tile.shape
        return 0.5 * math.hypot((ni - 1) * self.inline_spacing, (nj - 1) * self.crossline_spacing)

    def to_attrs(self) -> dict:
        """Grid as flat NetCDF attributes (prefix ``grid_``)."""
        return {f"grid_{k}": v for k, v in asdict(self).items()}

    @classmethod
    def from_attrs(cls, attrs: dict) -> "OutputGrid":
        kw = {}
        for name, f in cls.__dataclass_fields__.items():
            value = attrs[f"grid_{name}"]
            kw[name] = int(value) if f.type in ("int", int) else float(value)
        return cls(**kw)


def _snap_down(value: float, step: float) -> float:
    return math.floor(value / step + 1e-9) * step


def grid_from_settings(settings: GridSettings, midpoint_x: np.ndarray, midpoint_y: np.ndarray) -> OutputGrid:
    """Build the output grid from YAML settings and, in auto mode, the survey's midpoints.

    In ``auto`` mode the grid covers every midpoint; its origin is snapped to
    whole spacings of a lattice through (0, 0), so adding traces at one end
    keeps existing pillars (and tiles) where they were.  A survey whose
    midpoints lie on one line (spread across it below half a crossline
    spacing) gets a single crossline along the line.
    """
    if settings.mode == "explicit":
        check_grid_size(settings, int(settings.n_inlines), int(settings.n_crosslines), "grid.n_inlines x grid.n_crosslines")
        return OutputGrid(
            origin_x=float(settings.origin_x_m), origin_y=float(settings.origin_y_m),
            inline_spacing=float(settings.inline_spacing_m), crossline_spacing=float(settings.crossline_spacing_m),
            azimuth_deg=float(settings.azimuth_deg or 0.0),
            n_inlines=int(settings.n_inlines), n_crosslines=int(settings.n_crosslines),
            first_inline=settings.first_inline, first_crossline=settings.first_crossline,
            tile_size=settings.tile_size,
        )
    mx = np.asarray(midpoint_x, dtype=np.float64)
    my = np.asarray(midpoint_y, dtype=np.float64)
    if mx.size == 0:
        raise GridError("grid.mode is 'auto' but the survey has no traces to derive the grid from")
    dil, dxl = float(settings.inline_spacing_m), float(settings.crossline_spacing_m)
    is_line, line_az = _line_azimuth(mx, my, dxl)
    az = settings.azimuth_deg if settings.azimuth_deg is not None else (line_az if is_line else 0.0)
    probe = OutputGrid(0.0, 0.0, 1.0, 1.0, float(az), 1, 1)
    u, w = probe.ij(mx, my)  # metres along e_il and e_xl
    u0 = _snap_down(u.min(), dil)
    n_il = math.ceil((u.max() - u0) / dil - 1e-9) + 1
    if is_line and settings.azimuth_deg is None:
        w0 = float(np.median(w))
        n_xl = 1
    else:
        w0 = _snap_down(w.min(), dxl)
        n_xl = math.ceil((w.max() - w0) / dxl - 1e-9) + 1
    check_grid_size(settings, n_il, n_xl,
                    f"the midpoints' extent ({u.max() - u.min():.6g} m along the inlines, {w.max() - w.min():.6g} m "
                    f"across) at grid.inline_spacing_m {dil:g} and grid.crossline_spacing_m {dxl:g}")
    ox, oy = probe.xy(u0, w0)
    return OutputGrid(float(ox), float(oy), dil, dxl, float(az), n_il, n_xl,
                      settings.first_inline, settings.first_crossline, settings.tile_size)


def _line_azimuth(mx: np.ndarray, my: np.ndarray, crossline_spacing: float) -> tuple[bool, float]:
    """Whether midpoints lie along one line, and that line's azimuth in [0, 180) degrees."""
    if mx.size < 2:
        return True, 0.0
    xy = np.stack([mx - mx.mean(), my - my.mean()])
    cov = xy @ xy.T / mx.size
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]
    minor_spread = float(np.abs(evecs[:, 0] @ xy).max())
    az = math.degrees(math.atan2(major[0], major[1])) % 180.0
    return minor_spread < 0.5 * crossline_spacing, az


def cmp_fold(grid: OutputGrid, midpoint_x: np.ndarray, midpoint_y: np.ndarray) -> np.ndarray:
    """CMP fold: the number of traces whose midpoint falls in each bin (pillar) of ``grid``.

    A bin is the cell of one spacing around its pillar; midpoints outside the grid are not counted.

    Returns
    -------
    ndarray, shape (n_inlines, n_crosslines), int64
    """
    i, j = grid.ij(midpoint_x, midpoint_y)
    i, j = np.rint(i).astype(np.int64), np.rint(j).astype(np.int64)
    inside = (i >= 0) & (i < grid.n_inlines) & (j >= 0) & (j < grid.n_crosslines)
    counts = np.bincount(i[inside] * grid.n_crosslines + j[inside], minlength=grid.n_inlines * grid.n_crosslines)
    return counts.reshape(grid.n_inlines, grid.n_crosslines)


def check_grid_size(settings: GridSettings, n_inlines: int, n_crosslines: int, why: str) -> None:
    """Refuse a grid of more than ``settings.max_pillars`` pillars or :data:`MAX_TILES` tiles, before any
    array of it is allocated (the rule is :func:`pstm.config.grid_size_problem`).

    Raises
    ------
    GridSizeError
        Naming the size, what made it (``why``) and the settings that bound it.
    """
    problem = grid_size_problem(settings.max_pillars, settings.tile_size, n_inlines, n_crosslines, why)
    if problem:
        raise GridSizeError(problem, n_inlines, n_crosslines)


@dataclass(frozen=True)
class Outliers:
    """Traces whose source, receiver or midpoint lies far from the survey.

    Attributes
    ----------
    mask : ndarray of bool, shape (n_traces,)
        The outlying traces.
    distance_m : ndarray, shape (n_traces,)
        Largest distance of each trace's source, receiver and midpoint from the centre (m).
    limit_m : float
        Distance beyond which a trace is an outlier (m).
    centre : tuple of float
        Median midpoint (x, y) (m).
    """

    mask: np.ndarray
    distance_m: np.ndarray
    limit_m: float
    centre: tuple


#: Automatic outlier distance: this many times the 90th percentile of the midpoints' distances from their
#: median, and at least OUTLIER_MIN_DISTANCE_M.
OUTLIER_FACTOR = 10.0
OUTLIER_MIN_DISTANCE_M = 10_000.0


def find_outliers(source_x, source_y, receiver_x, receiver_y, limit_m: float | None = None) -> Outliers:
    """Traces whose source, receiver or midpoint lies farther than ``limit_m`` from the median midpoint.

    ``limit_m`` None: :data:`OUTLIER_FACTOR` times the 90th percentile of the midpoints' distances from the
    median midpoint, and at least :data:`OUTLIER_MIN_DISTANCE_M` (a robust size of the survey: a few far
    traces do not move it).
    """
    sx, sy, rx, ry = (np.asarray(a, dtype=np.float64) for a in (source_x, source_y, receiver_x, receiver_y))
    mx, my = 0.5 * (sx + rx), 0.5 * (sy + ry)
    if mx.size == 0:
        return Outliers(np.zeros(0, bool), np.zeros(0), float(limit_m or 0.0), (0.0, 0.0))
    cx, cy = float(np.median(mx)), float(np.median(my))
    dm = np.hypot(mx - cx, my - cy)
    if limit_m is None:
        limit_m = max(OUTLIER_FACTOR * float(np.percentile(dm, 90)), OUTLIER_MIN_DISTANCE_M)
    d = np.maximum(dm, np.maximum(np.hypot(sx - cx, sy - cy), np.hypot(rx - cx, ry - cy)))
    return Outliers(d > limit_m, d, float(limit_m), (cx, cy))
