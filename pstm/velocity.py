"""RMS velocity models: constant, a (twt, vrms) table, or a two-column CSV file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only for annotations: pstm.config calls this module's plausibility checks
    from pstm.config import VelocitySettings


#: velocity.extrapolate is suggested only where it would hold the end values over at most this share of the
#: output times (a short gap at the top or bottom); beyond it the image would be wrong there.
MAX_EXTRAPOLATED_SHARE = 0.25


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
            k = int(np.nonzero(~(np.isfinite(t) & np.isfinite(v)))[0][0])
            raise VelocityError(f"{self.source}: row {k + 1} (twt {t[k]} ms, vrms {v[k]} m/s) is not two finite "
                                "numbers; give finite times (ms) and velocities (m/s)")
        bad = np.nonzero(np.diff(t) <= 0)[0]
        if bad.size:
            k = int(bad[0])
            raise VelocityError(f"{self.source}: times must increase strictly, but row {k + 2} has twt {t[k + 1]:g} ms "
                                f"after {t[k]:g} ms in row {k + 1}; sort the rows by time and remove duplicates")
        if np.any(v <= 0):
            k = int(np.nonzero(v <= 0)[0][0])
            raise VelocityError(f"{self.source}: row {k + 1} has velocity {v[k]:g} m/s at twt {t[k]:g} ms, which is not "
                                "positive; every vrms must be > 0 m/s (check the column order: twt ms, then vrms m/s)")
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


#: A time function whose last time is at most this (ms) has its times in seconds.
SECONDS_LIKE_MAX_TIME = 20.0
FEET = 0.3048


def times_look_like_seconds(times) -> bool:
    """True when a velocity's times (meant in ms) end at or before 20 ms: they are in seconds."""
    t = np.asarray(times, dtype=np.float64)
    return t.size >= 2 and 0 < float(t.max()) <= SECONDS_LIKE_MAX_TIME


def vrms_range_problem(values, lo: float = 300.0, hi: float = 10000.0) -> str | None:
    """What is wrong with RMS velocities outside the plausible range [lo, hi] m/s, and what was probably meant.

    Returns None when every value lies in the range.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    vmin, vmax = float(v.min()), float(v.max())
    if lo <= vmin and vmax <= hi:
        return None
    setting = f"velocity.vrms_range_m_s [{lo:g}, {hi:g}]"
    if 0 < vmax <= 20.0:
        return (f"velocities {vmin:g} .. {vmax:g} lie below the plausible RMS range ({setting}): they look like "
                f"km/s; write them in m/s ({vmin * 1000:g} .. {vmax * 1000:g})")
    if vmax > hi and lo <= vmin * FEET and vmax * FEET <= hi:
        return (f"velocities {vmin:g} .. {vmax:g} reach above the plausible RMS range ({setting}): they look like "
                f"ft/s; write them in m/s (x 0.3048: {vmin * FEET:.0f} .. {vmax * FEET:.0f})")
    where = f"{vmin:g} m/s" if vmin < lo else f"{vmax:g} m/s"
    return (f"velocity {where} lies outside the plausible RMS range ({setting}; the values span {vmin:g} .. "
            f"{vmax:g} m/s); correct the velocity, or widen velocity.vrms_range_m_s if such velocities are real")


def check_vrms_range(values, lo: float, hi: float, source: str, twt_ms=None) -> None:
    """Raise :class:`VelocityError` naming ``source`` (and the first row outside the range) when velocities
    lie outside [lo, hi] m/s."""
    problem = vrms_range_problem(values, lo, hi)
    if problem is None:
        return
    v = np.asarray(values, dtype=np.float64).ravel()
    row = ""
    if twt_ms is not None:
        k = int(np.nonzero((v < lo) | (v > hi))[0][0])
        row = f" (first at row {k + 1}, twt {np.asarray(twt_ms).ravel()[k]:g} ms)"
    raise VelocityError(f"{source}: {problem}{row}")


def interval_velocity_warnings(velocity: "VelocityFunction") -> list[str]:
    """Rows between which the RMS velocity falls so fast that the Dix interval velocity is imaginary.

    ``vint^2 = (v2^2 t2 - v1^2 t1) / (t2 - t1)`` must be positive for any layered earth; a velocity that
    breaks this was mispicked or has a row out of place.  Returned as warnings (the migration is defined).
    """
    t, v = velocity.twt_ms, velocity.vrms_m_s
    if t.size < 2:
        return []
    vint2 = (v[1:] ** 2 * t[1:] - v[:-1] ** 2 * t[:-1]) / np.diff(t)
    bad = np.nonzero(vint2 <= 0)[0]
    if not bad.size:
        return []
    k = int(bad[0])
    return [f"{velocity.source}: vrms falls from {v[k]:g} m/s at {t[k]:g} ms to {v[k + 1]:g} m/s at {t[k + 1]:g} ms "
            f"(rows {k + 1} and {k + 2}; {bad.size} such pairs): no layered earth has such RMS velocities (the Dix "
            "interval velocity is imaginary); check the picks"]


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
    vf = VelocityFunction(arr[:, 0], arr[:, 1], source=str(path))
    if times_look_like_seconds(vf.twt_ms):
        raise VelocityError(f"{path}: the times end at {vf.twt_ms[-1]:g} ms: they look like seconds. Write the first "
                            f"column in milliseconds (x 1000: {vf.twt_ms[0] * 1000:g} .. {vf.twt_ms[-1] * 1000:g} ms); "
                            "velocity.extrapolate would hold one velocity over the whole section, a wrong image")
    return vf


def check_velocity_coverage(velocity: VelocityFunction, twt_ms: np.ndarray, allow_extrapolation: bool = False,
                            setting: str = "velocity.extrapolate") -> list[str]:
    """Check that a velocity function covers the output times; return warnings for what is extrapolated.

    A 1D function covers every pillar of any grid; in time it covers
    ``[twt_ms[0], twt_ms[-1]]`` when its first time is at or before the first
    output time and its last time at or after the last.  A function of one
    value (``velocity.kind: constant``, or a table of one row) is constant by
    definition and covers everything.  Beyond its ends a function is held
    constant; that is allowed only with ``allow_extrapolation`` (the
    ``setting`` named in the message).

    Parameters
    ----------
    velocity : VelocityFunction
    twt_ms : ndarray
        Output two-way times (ms), increasing.
    allow_extrapolation : bool
        Hold the end values constant instead of failing.
    setting : str
        The configuration key that allows extrapolation (for the message).

    Returns
    -------
    list of str
        One line per uncovered time range (empty when covered); these are
        warnings to log when extrapolation is allowed.

    Raises
    ------
    VelocityError
        Naming the velocity's source, the uncovered time range and the fix,
        when the function does not cover the output times and
        ``allow_extrapolation`` is false.
    """
    twt = np.asarray(twt_ms, dtype=np.float64)
    if twt.size == 0 or velocity.twt_ms.size == 1:
        return []
    t0, t1 = float(velocity.twt_ms[0]), float(velocity.twt_ms[-1])
    lo, hi = float(twt.min()), float(twt.max())
    gaps = []
    if lo < t0:
        gaps.append(f"output times {lo:g} .. {t0:g} ms lie before the velocity's first time {t0:g} ms "
                    f"(held at {velocity.vrms_m_s[0]:g} m/s)")
    if hi > t1:
        gaps.append(f"output times {t1:g} .. {hi:g} ms lie after the velocity's last time {t1:g} ms "
                    f"(held at {velocity.vrms_m_s[-1]:g} m/s)")
    if gaps and not allow_extrapolation:
        uncovered = max(t0 - lo, 0.0) + max(hi - t1, 0.0)
        share = uncovered / (hi - lo) if hi > lo else 1.0
        if share <= MAX_EXTRAPOLATED_SHARE:
            fix = f", or set {setting}: true to hold the end values constant"
        else:
            fix = (f". Holding the end values over {uncovered:g} ms ({100 * share:.0f} % of the output) would give a "
                   f"wrong image there, so {setting} is no fix here")
        raise VelocityError(f"{velocity.source}: does not cover the output times {lo:g} .. {hi:g} ms: "
                            + "; ".join(gaps) + ". Extend the velocity to cover them, or limit the output with "
                            f"time.start_ms/time.end_ms{fix}")
    return [f"{velocity.source}: {g}" for g in gaps]


def velocity_from_settings(settings: VelocitySettings) -> VelocityFunction:
    """Build the velocity function chosen in YAML, its velocities checked against ``vrms_range_m_s``."""
    if settings.kind == "constant":
        vf = VelocityFunction(np.array([0.0]), np.array([float(settings.constant_m_s)]), "velocity.constant_m_s")
    elif settings.kind == "table":
        arr = np.array(settings.table, dtype=np.float64).reshape(-1, 2)
        vf = VelocityFunction(arr[:, 0], arr[:, 1], "velocity.table")
    else:
        vf = read_velocity_csv(settings.csv_path)
    lo, hi = settings.vrms_range_m_s
    check_vrms_range(vf.vrms_m_s, lo, hi, vf.source, vf.twt_ms)
    return vf
