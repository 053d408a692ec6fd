"""RMS velocity models: constant, a (twt, vrms) table, or a two-column CSV file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pstm.config import VelocitySettings


class VelocityError(ValueError):
    """A velocity function is malformed or does not cover what is asked."""


@dataclass(frozen=True)
class VelocityFunction:
    """A 1D RMS velocity vrms(twt), the same at every pillar.

    Linear between the given times, constant beyond the ends.

    Attributes
    ----------
    twt_ms : ndarray, shape (n,)
        Strictly increasing two-way times (ms).
    vrms_m_s : ndarray, shape (n,)
        RMS velocities (m/s), all positive.
    source : str
        Where it came from (for error messages and provenance).
    """

    twt_ms: np.ndarray
    vrms_m_s: np.ndarray
    source: str = "velocity"

    def __post_init__(self):
        t = np.asarray(self.twt_ms, dtype=np.float64)
        v = np.asarray(self.vrms_m_s, dtype=np.float64)
        if t.ndim != 1 or t.shape != v.shape or t.size == 0:
            raise VelocityError(f"{self.source}: need matching 1D time and velocity columns, got {t.shape} and {v.shape}")
        if not np.all(np.isfinite(t)) or not np.all(np.isfinite(v)):
            raise VelocityError(f"{self.source}: times and velocities must be finite numbers")
        bad = np.nonzero(np.diff(t) <= 0)[0]
        if bad.size:
            k = int(bad[0])
            raise VelocityError(f"{self.source}: times must increase strictly, but row {k + 2} has twt {t[k + 1]} ms "
                                f"after {t[k]} ms; sort the rows and remove duplicates")
        if np.any(v <= 0):
            k = int(np.nonzero(v <= 0)[0][0])
            raise VelocityError(f"{self.source}: velocity {v[k]} m/s at twt {t[k]} ms is not positive; vrms must be > 0")
        object.__setattr__(self, "twt_ms", t)
        object.__setattr__(self, "vrms_m_s", v)

    def at(self, twt_ms: np.ndarray) -> np.ndarray:
        """vrms (m/s) at the given two-way times (ms)."""
        return np.interp(np.asarray(twt_ms, dtype=np.float64), self.twt_ms, self.vrms_m_s)

    def for_pillars(self, x: np.ndarray, y: np.ndarray, twt_ms: np.ndarray) -> np.ndarray:
        """vrms at every pillar and time, shape (n_pillars, n_times)."""
        row = self.at(twt_ms)
        return np.broadcast_to(row, (np.asarray(x).size, row.size)).copy()

    def describe(self) -> str:
        return f"{self.source}: " + ", ".join(f"{t:g} ms {v:g} m/s" for t, v in zip(self.twt_ms, self.vrms_m_s))


def read_velocity_csv(path: str | Path) -> VelocityFunction:
    """Read a two-column CSV (twt ms, vrms m/s); one header line is allowed."""
    path = Path(path)
    if not path.is_file():
        raise VelocityError(f"{path}: velocity CSV file not found (velocity.csv_path)")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.replace(";", ",").split(",")]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            if not rows and n == 1:
                continue  # header line
            raise VelocityError(f"{path}: line {n} {line!r} is not two numbers (twt ms, vrms m/s)") from None
        if len(values) != 2:
            raise VelocityError(f"{path}: line {n} has {len(values)} columns; expected two (twt ms, vrms m/s)")
        rows.append(values)
    if not rows:
        raise VelocityError(f"{path}: no velocity rows found; expected lines of 'twt_ms, vrms_m_s'")
    arr = np.array(rows)
    return VelocityFunction(arr[:, 0], arr[:, 1], source=str(path))


def velocity_from_settings(settings: VelocitySettings) -> VelocityFunction:
    """Build the velocity function chosen in YAML."""
    if settings.kind == "constant":
        return VelocityFunction(np.array([0.0]), np.array([float(settings.constant_m_s)]), "velocity.constant_m_s")
    if settings.kind == "table":
        arr = np.array(settings.table, dtype=np.float64).reshape(-1, 2)
        return VelocityFunction(arr[:, 0], arr[:, 1], "velocity.table")
    return read_velocity_csv(settings.csv_path)
