"""Typed, frozen settings built from a validated configuration dictionary.

The JSON schema in ``pstm/data/config.schema.yaml`` (linked from
``workflow/schemas/config.schema.yaml``) is the single source of keys,
defaults and allowed values.  :func:`validate_config` fills the defaults and
raises :class:`ConfigError` naming the offending key; :func:`load_settings`
turns the result into frozen dataclasses that the rest of pstm uses.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import yaml

SCHEMA_RESOURCE = "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


def load_schema() -> dict:
    """Return the configuration JSON schema as a dictionary."""
    text = resources.files("pstm.data").joinpath(SCHEMA_RESOURCE).read_text()
    return yaml.safe_load(text)


def _fill_defaults(schema: dict, data: dict) -> None:
    """Recursively insert schema defaults for keys missing from ``data``."""
    for key, sub in schema.get("properties", {}).items():
        if key not in data and "default" in sub:
            data[key] = copy.deepcopy(sub["default"])
        if isinstance(data.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(sub, data[key])


def _cast(schema: dict, value: Any) -> Any:
    """Cast validated values to the schema's types: ``integer`` -> int, ``number`` -> float."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else (types or [])
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: _cast(props.get(k, {}), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cast(schema.get("items", {}), v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if "integer" in types and isinstance(value, (int, float)):
        return int(value)
    if "number" in types and isinstance(value, (int, float)):
        return float(value)
    return value


def validate_config(config: dict | None, source: str = "config") -> dict:
    """Validate a configuration dictionary and return a copy with defaults.

    Parameters
    ----------
    config : dict or None
        The configuration as read from YAML.
    source : str
        Name of the file it came from, used in error messages.

    Returns
    -------
    dict
        A new dictionary with every default filled in.

    Raises
    ------
    ConfigError
        Naming the key path, the bad value and what is allowed.
    """
    schema = load_schema()
    data = copy.deepcopy(config or {})
    _fill_defaults(schema, data)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors:
            path = ".".join(str(p) for p in err.absolute_path) or "(top level)"
            if err.validator == "additionalProperties":
                sub = schema
                for p in err.absolute_path:
                    sub = sub.get("properties", {}).get(p, sub.get("items", {})) if isinstance(p, str) else sub.get("items", {})
                allowed = sorted(sub.get("properties", {}))
                lines.append(f"{path}: {err.message}; allowed keys here: {', '.join(allowed)}")
            else:
                lines.append(f"{path}: {err.message}")
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(lines))
    data = _cast(schema, data)
    _check_cross_fields(data, source)
    return data


def _check_cross_fields(data: dict, source: str) -> None:
    """Rules that a JSON schema cannot express simply."""
    survey = data["survey"]
    if survey["source"] == "segy" and not survey["segy_path"]:
        raise ConfigError(f"{source}: survey.segy_path is required when survey.source is 'segy'; "
                          "give the path of the prestack SEG-Y file")
    lo, hi = survey["offset_min_m"], survey["offset_max_m"]
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"{source}: survey.offset_min_m ({lo}) must be below survey.offset_max_m ({hi})")
    grid = data["grid"]
    if grid["mode"] == "explicit":
        missing = [k for k in ("origin_x_m", "origin_y_m", "n_inlines", "n_crosslines") if grid[k] is None]
        if missing:
            raise ConfigError(f"{source}: grid.mode is 'explicit' but grid.{', grid.'.join(missing)} "
                              "not set; give them or use grid.mode: auto")
    vel = data["velocity"]
    lo_v, hi_v = vel["vrms_range_m_s"]
    if lo_v >= hi_v:
        raise ConfigError(f"{source}: velocity.vrms_range_m_s {vel['vrms_range_m_s']} must be [lowest, highest] "
                          "with lowest < highest (m/s)")
    if vel["kind"] == "csv" and not vel["csv_path"]:
        raise ConfigError(f"{source}: velocity.csv_path is required when velocity.kind is 'csv'")
    if vel["kind"] == "cube" and not vel["cube_path"]:
        raise ConfigError(f"{source}: velocity.cube_path is required when velocity.kind is 'cube'")
    aniso = data["anisotropy"]
    if aniso["kind"] == "cube" and not aniso["cube_path"]:
        raise ConfigError(f"{source}: anisotropy.cube_path is required when anisotropy.kind is 'cube'")
    if aniso["kind"] == "table":
        times = [row[0] for row in aniso["table"]]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ConfigError(f"{source}: anisotropy.table times {times} must increase strictly")
        bad = [row[1] for row in aniso["table"] if not 0 <= row[1] <= 0.5]
        if bad:
            raise ConfigError(f"{source}: anisotropy.table has eta values {bad} outside 0 .. 0.5")
    if vel["kind"] == "table":
        times = [row[0] for row in vel["table"]]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ConfigError(f"{source}: velocity.table times {times} must increase strictly; sort the rows "
                              "and remove duplicates")
        bad = [row[1] for row in vel["table"] if row[1] <= 0]
        if bad:
            raise ConfigError(f"{source}: velocity.table has non-positive velocities {bad}; vrms must be > 0 m/s")
    from pstm.velocity import times_look_like_seconds, vrms_range_problem

    if vel["kind"] == "table":
        times = [row[0] for row in vel["table"]]
        if times_look_like_seconds(times):
            raise ConfigError(f"{source}: velocity.table times {times} end at {times[-1]:g} ms: they look like "
                              f"seconds; write them in milliseconds ({[t * 1000 for t in times]})")
        problem = vrms_range_problem([row[1] for row in vel["table"]], lo_v, hi_v)
        if problem:
            raise ConfigError(f"{source}: velocity.table: {problem}")
    if vel["kind"] == "constant":
        problem = vrms_range_problem([vel["constant_m_s"]], lo_v, hi_v)
        if problem:
            raise ConfigError(f"{source}: velocity.constant_m_s: {problem}")
    if not vel["table"]:
        raise ConfigError(f"{source}: velocity.table must have at least one row")
    mig = data["migration"]
    edges = mig["offset_classes_m"]
    if edges is not None and (len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:]))):
        raise ConfigError(f"{source}: migration.offset_classes_m {edges} must hold at least two strictly "
                          "increasing edges (m), e.g. [0, 500, 1000, 1500]")
    _check_weights(mig, source)
    table = mig["aperture_table"]
    if table is not None:
        times = [row[0] for row in table]
        if not table or any(b <= a for a, b in zip(times, times[1:])) or any(row[1] <= 0 for row in table):
            raise ConfigError(f"{source}: migration.aperture_table {table} needs rows [twt ms, radius m] with "
                              "strictly increasing times and positive radii")
    if mig["aperture_min_m"] > mig["aperture_max_m"]:
        raise ConfigError(f"{source}: migration.aperture_min_m ({mig['aperture_min_m']}) exceeds "
                          f"migration.aperture_max_m ({mig['aperture_max_m']})")
    _check_velocity_analysis(data["velocity_analysis"], source)
    t = data["time"]
    if t["end_ms"] is not None and t["end_ms"] <= t["start_ms"]:
        raise ConfigError(f"{source}: time.end_ms ({t['end_ms']}) must exceed time.start_ms ({t['start_ms']})")
    if grid["mode"] == "explicit":
        problem = grid_size_problem(grid["max_pillars"], grid["tile_size"], grid["n_inlines"], grid["n_crosslines"],
                                    "grid.n_inlines x grid.n_crosslines")
        if problem:
            raise ConfigError(f"{source}: {problem}; give a smaller explicit grid")
    check_qc_positions(data["qc"], source, grid=grid if grid["mode"] == "explicit" else None, time=t)
    from pstm.kernels.registry import KernelOptionError, check_kernel_options

    try:
        check_kernel_options(mig["kernel"], _extended_options(data))
    except KernelOptionError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def scan_scalings(va: dict) -> list[float]:
    """The trial scalings of a ``velocity_analysis`` section: ``scaling_min`` to ``scaling_max`` by ``scaling_step``."""
    lo, hi, step = va["scaling_min"], va["scaling_max"], va["scaling_step"]
    n = int(np.floor((hi - lo) / step + 1e-9)) + 1
    return [round(lo + k * step, 10) for k in range(n)]


def _check_velocity_analysis(va: dict, source: str) -> None:
    """Rules of the ``velocity_analysis`` section that the schema cannot express."""
    key = "velocity_analysis"
    if va["functions"] is None:
        if va["scaling_min"] >= va["scaling_max"]:
            raise ConfigError(f"{source}: {key}.scaling_min ({va['scaling_min']}) must be below {key}.scaling_max "
                              f"({va['scaling_max']})")
        n = len(scan_scalings(va))
        if n < 2 or n > va["max_trials"]:
            raise ConfigError(f"{source}: {key}: scalings {va['scaling_min']} .. {va['scaling_max']} in steps of "
                              f"{va['scaling_step']} make {n} trial velocities; give between 2 and {key}.max_trials "
                              f"({va['max_trials']}): a larger step or a narrower range")
    else:
        functions = va["functions"]
        if not 2 <= len(functions) <= va["max_trials"]:
            raise ConfigError(f"{source}: {key}.functions holds {len(functions)} functions; give between 2 and "
                              f"{key}.max_trials ({va['max_trials']})")
        for n, table in enumerate(functions):
            times = [row[0] for row in table]
            if any(b <= a for a, b in zip(times, times[1:])) or any(row[1] <= 0 for row in table):
                raise ConfigError(f"{source}: {key}.functions[{n}] needs rows [twt ms, vrms m/s] with strictly "
                                  "increasing times and positive velocities")
        every = sorted({float(row[0]) for table in functions for row in table})
        values = np.array([np.interp(every, [r[0] for r in t], [r[1] for r in t]) for t in functions])
        slower = np.nonzero(np.any(np.diff(values, axis=0) <= 0, axis=1))[0]
        if slower.size:
            n = int(slower[0])
            raise ConfigError(f"{source}: {key}.functions[{n + 1}] is not faster than functions[{n}] at every time; "
                              "order the functions from slowest to fastest, each faster than the one before")
    edges = va["offset_classes_m"]
    if edges is not None and (len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:]))):
        raise ConfigError(f"{source}: {key}.offset_classes_m {edges} must hold at least two strictly increasing "
                          "edges (m), e.g. [0, 250, 500, 750, 1000]")
    if va["end_ms"] is not None and va["end_ms"] <= va["start_ms"]:
        raise ConfigError(f"{source}: {key}.end_ms ({va['end_ms']}) must exceed {key}.start_ms ({va['start_ms']})")
    lo, hi = va["interval_velocity_range_m_s"]
    if lo >= hi:
        raise ConfigError(f"{source}: {key}.interval_velocity_range_m_s {va['interval_velocity_range_m_s']} must be "
                          "[lowest, highest] with lowest < highest (m/s)")
    if va["locations"] is not None and not va["locations"]:
        raise ConfigError(f"{source}: {key}.locations is empty; give [inline, crossline] pairs, or null for every "
                          f"{key}.inline_step-th inline and crossline_step-th crossline")


#: Most tiles a grid may have: each is two Snakemake jobs, and Snakemake plans every job at start-up.
MAX_TILES = 50_000


def grid_size_problem(max_pillars: float, tile_size: int, n_inlines: int, n_crosslines: int, why: str) -> str | None:
    """What is wrong with a grid of ``n_inlines`` x ``n_crosslines`` pillars (``why``: what made it), or None.

    Too many pillars (more than ``grid.max_pillars``) or more than :data:`MAX_TILES` tiles of ``tile_size``.
    """
    n = n_inlines * n_crosslines
    if n > max_pillars:
        return (f"the output grid would be {n_inlines} x {n_crosslines} = {n:.3g} pillars, from {why}: "
                f"more than grid.max_pillars ({max_pillars:.3g})")
    n_tiles = -(-n_inlines // tile_size) * -(-n_crosslines // tile_size)
    if n_tiles > MAX_TILES:
        return (f"the output grid of {n_inlines} x {n_crosslines} pillars, from {why}, would be {n_tiles} tiles of "
                f"grid.tile_size {tile_size}, more than {MAX_TILES} (two Snakemake jobs each); raise grid.tile_size")
    return None


def check_qc_positions(qc: dict, source: str, grid: dict | None = None, time: dict | None = None,
                       inlines=None, crosslines=None, twt_ms=None) -> None:
    """The QC inline, crossline and time slice must lie in the output grid and time axis.

    Checked at start-up for what the configuration fixes (an explicit grid, time.start_ms/end_ms) and at
    indexing against the grid and time axis built there (``inlines``, ``crosslines``, ``twt_ms``).

    Raises
    ------
    ConfigError
        Naming the key, its value, the valid range and the fix.
    """
    if grid is not None:
        inlines = range(grid["first_inline"], grid["first_inline"] + grid["n_inlines"])
        crosslines = range(grid["first_crossline"], grid["first_crossline"] + grid["n_crosslines"])
    for key, value, numbers, what in (("inline", qc.get("inline"), inlines, "inline"),
                                      ("crossline", qc.get("crossline"), crosslines, "crossline")):
        if value is None or numbers is None or len(numbers) == 0:
            continue
        lo, hi = int(min(numbers)), int(max(numbers))
        if not lo <= value <= hi:
            raise ConfigError(f"{source}: qc.{key} is {value}, but the grid's {what}s run {lo} .. {hi}; set qc.{key} "
                              f"within them, or null to cut through the strongest event")
    ts = qc.get("time_slice_ms")
    if ts is None:
        return
    if twt_ms is not None and len(twt_ms):
        lo, hi = float(np.min(twt_ms)), float(np.max(twt_ms))
    elif time is not None:
        lo, hi = time["start_ms"], time["end_ms"]
    else:
        return
    if ts < lo or (hi is not None and ts > hi):
        span = f"{lo:g} .. {hi:g} ms" if hi is not None else f"from {lo:g} ms"
        raise ConfigError(f"{source}: qc.time_slice_ms is {ts:g} ms, but the output times run {span}; set "
                          "qc.time_slice_ms within them, or null to cut through the strongest event")


def read_config_file(path: str | Path) -> dict:
    """Read a YAML configuration file; a syntax error or an empty file is a :class:`ConfigError` naming the file
    and, for a syntax error, the line and column."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = ""
        if mark is not None:
            lines = text.splitlines()
            line = lines[mark.line] if mark.line < len(lines) else ""
            where = f", line {mark.line + 1}, column {mark.column + 1} ({line.strip()!r})"
        problem = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem or exc}; check the indentation (spaces, not "
                          "tabs) and that brackets and quotes are closed") from None
    if config is None:
        raise ConfigError(f"{path}: the configuration file is empty (no setting in it); write the settings in it "
                          "(see config/README.md), or '{}' to run with every default")
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: holds a {type(config).__name__}, not a mapping of settings (key: value lines "
                          "at the top level, e.g. 'survey:')")
    return config


def check_config_file(path: str | Path) -> None:
    """Read a configuration file if it exists, so a YAML syntax error or an empty file is pstm's
    :class:`ConfigError` naming the file and line (called by the Snakefile before Snakemake reads it)."""
    if Path(path).is_file():
        read_config_file(path)


def merge_configs(configs: list[dict]) -> dict:
    """Later configurations override earlier ones key by key (sections merged), as Snakemake merges them."""
    out: dict = {}

    def merge(base: dict, extra: dict) -> None:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = copy.deepcopy(value)

    for c in configs:
        merge(out, c)
    return out


def check_input_files(config: dict, source: str = "config") -> None:
    """The input files a validated configuration names must exist: checked at start-up, before any job runs.

    Raises
    ------
    ConfigError
        Naming the key, the path and the working directory it is relative to.
    """
    import os

    wanted = []
    if config["survey"]["source"] == "segy":
        wanted.append(("survey.segy_path", config["survey"]["segy_path"], "the prestack SEG-Y file"))
    vel = config["velocity"]
    if vel["kind"] == "csv":
        wanted.append(("velocity.csv_path", vel["csv_path"], "the velocity CSV file"))
    if vel["kind"] == "cube":
        wanted.append(("velocity.cube_path", vel["cube_path"], "the velocity cube"))
    if config["anisotropy"]["kind"] == "cube":
        wanted.append(("anisotropy.cube_path", config["anisotropy"]["cube_path"], "the eta cube"))
    for key, value, what in wanted:
        path = Path(value)
        if not path.is_file():
            state = "is a directory, not a file" if path.is_dir() else "does not exist"
            rel = "" if path.is_absolute() else f" (relative to the working directory {os.getcwd()})"
            raise ConfigError(f"{source}: {key}: {value}{rel} {state}; give the path of {what}")


def _check_weights(mig: dict, source: str) -> None:
    """Refuse true-amplitude weights with options they contradict, and malformed angle classes."""
    edges = mig["angle_classes_deg"]
    if edges is not None and (len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:]))):
        raise ConfigError(f"{source}: migration.angle_classes_deg {edges} must hold at least two strictly "
                          "increasing reflection-angle edges (degrees, 0 to 90), e.g. [0, 10, 20, 30, 40]")
    if mig["weights"] != "true_amplitude":
        return
    off = [k for k in ("spreading", "obliquity") if not mig[k]]
    if off:
        raise ConfigError(f"{source}: migration.weights: true_amplitude replaces the spreading and obliquity "
                          f"weights, so migration.{' and migration.'.join(off)} false contradicts it; remove "
                          f"{' and '.join(off)} (default true) or set weights: standard")
    if mig["rho_filter"] != "auto":
        raise ConfigError(f"{source}: migration.weights: true_amplitude applies the rho filter its weights are "
                          f"derived for (see docs/amplitudes.md), so migration.rho_filter {mig['rho_filter']!r} "
                          "contradicts it; set rho_filter: auto or weights: standard")


def _extended_options(data: dict) -> list[str]:
    """Extended imaging options a configuration switches on (see KernelParams.extended_features)."""
    mig = data["migration"]
    used = []
    if mig["interpolation"] != "linear":
        used.append(f"interpolation={mig['interpolation']}")
    for key in ("antialias", "aperture_table", "max_opening_angle_deg", "stretch_mute"):
        value = mig.get(key)
        if value not in (None, "none", False):
            used.append(key)
    if data["anisotropy"]["kind"] != "none":
        used.append("eta")
    if mig["weights"] != "standard":
        used.append(f"weights={mig['weights']}")
    if mig["angle_classes_deg"] is not None:
        used.append("angle_classes_deg")
    return used


# ---------------------------------------------------------------------------
# Frozen settings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationSettings:
    """Settings of the Kirchhoff summation (see the schema for meanings)."""

    kernel: str = "numba"
    interpolation: str = "linear"
    antialias: str = "none"
    antialias_trace_spacing_m: float | None = None
    antialias_max_half_length: float = 8.0
    aperture_table: tuple | None = None
    max_opening_angle_deg: float | None = None
    stretch_mute: float | None = None
    rho_filter: str = "auto"
    normalization: str = "raw"
    offset_classes_m: tuple | None = None
    max_dip_deg: float = 45.0
    aperture_min_m: float = 100.0
    aperture_max_m: float = 2500.0
    taper_fraction: float = 0.1
    spreading: bool = True
    obliquity: bool = True
    weights: str = "standard"
    weight_geometry: str = "auto"
    angle_classes_deg: tuple | None = None
    threads: int | None = None

    def science_dict(self) -> dict:
        """Settings that change the image (threads do not)."""
        d = dataclasses.asdict(self)
        d.pop("threads")
        return d


@dataclass(frozen=True)
class GridSettings:
    mode: str = "auto"
    origin_x_m: float | None = None
    origin_y_m: float | None = None
    inline_spacing_m: float = 25.0
    crossline_spacing_m: float = 25.0
    azimuth_deg: float | None = None
    n_inlines: int | None = None
    n_crosslines: int | None = None
    first_inline: int = 1
    first_crossline: int = 1
    tile_size: int = 16
    max_pillars: int = 100_000_000


@dataclass(frozen=True)
class TimeSettings:
    start_ms: float = 0.0
    end_ms: float | None = None
    interval_ms: float | None = None


@dataclass(frozen=True)
class HeaderBytes:
    source_x: int = 73
    source_y: int = 77
    receiver_x: int = 81
    receiver_y: int = 85
    coordinate_scalar: int = 71


@dataclass(frozen=True)
class SurveySettings:
    source: str = "synthetic"
    segy_path: str | None = None
    headers: HeaderBytes = field(default_factory=HeaderBytes)
    offset_min_m: float | None = None
    offset_max_m: float | None = None
    coordinate_unit: str = "header"
    live_trace_codes: tuple = (1, 11, 12, 15)
    exclude_traces: tuple = ()
    outliers: str = "error"
    outlier_distance_m: float | None = None
    max_abs_amplitude: float = 1e20


@dataclass(frozen=True)
class VelocitySettings:
    kind: str = "table"
    constant_m_s: float = 2000.0
    table: tuple = ((0.0, 1800.0), (1500.0, 2800.0))
    csv_path: str | None = None
    extrapolate: bool = False
    cube_path: str | None = None
    vrms_range_m_s: tuple = (300.0, 10000.0)


@dataclass(frozen=True)
class AnisotropySettings:
    kind: str = "none"
    eta: float = 0.0
    table: tuple = ((0.0, 0.0),)
    cube_path: str | None = None


@dataclass(frozen=True)
class OptimizationSettings:
    prefilter: bool = True
    sample_window: bool = True
    trace_sort: bool = True
    cache_block_traces: int = 256
    fast_sqrt: bool = False
    output_decimation: int = 1


@dataclass(frozen=True)
class MlxSettings:
    memory_budget_mb: float = 512.0
    device: str = "auto"


@dataclass(frozen=True)
class VelocityAnalysisSettings:
    """The ``velocity_analysis`` section (see the schema for meanings)."""

    inline_step: int = 10
    crossline_step: int = 10
    locations: tuple | None = None
    min_fold_fraction: float = 0.8
    fold_window_m: float = 400.0
    max_locations: int = 2000
    supergather_bins: int = 3
    supergather_step_bins: int = 2
    scaling_min: float = 0.9
    scaling_max: float = 1.1
    scaling_step: float = 0.02
    max_trials: int = 64
    functions: tuple | None = None
    offset_classes_m: tuple | None = None
    n_offset_classes: int = 6
    start_ms: float = 0.0
    end_ms: float | None = None
    semblance_window_ms: float = 40.0
    min_semblance: float = 0.5
    min_relative_power: float = 0.02
    power_window_ms: float = 500.0
    max_change_percent_per_100ms: float = 5.0
    smoothing_ms: float = 100.0
    interval_velocity_range_m_s: tuple = (1300.0, 7000.0)
    dix: str = "clip"
    reach_m: float | None = None
    cube_spacing_m: float | None = None

    def scalings(self) -> list[float] | None:
        """The trial scalings, or None when absolute ``functions`` are the trials."""
        return None if self.functions is not None else scan_scalings(dataclasses.asdict(self))

    #: Keys that decide the trial gathers (a change reruns the scans); the others only the picks and the update.
    SCAN_KEYS = ("inline_step", "crossline_step", "locations", "min_fold_fraction", "fold_window_m", "max_locations", "supergather_bins",
                 "supergather_step_bins", "scaling_min", "scaling_max",
                 "scaling_step", "max_trials", "functions", "offset_classes_m", "n_offset_classes")

    def scan_dict(self) -> dict:
        """The settings that decide the trial gathers."""
        return {k: getattr(self, k) for k in self.SCAN_KEYS}


@dataclass(frozen=True)
class Settings:
    """All settings of a run, frozen."""

    results: str
    survey: SurveySettings
    synthetic: dict
    velocity: VelocitySettings
    anisotropy: AnisotropySettings
    grid: GridSettings
    time: TimeSettings
    migration: MigrationSettings
    optimization: OptimizationSettings
    mlx: MlxSettings
    profile: dict
    qc: dict
    output: dict = field(default_factory=dict)
    velocity_analysis: VelocityAnalysisSettings = field(default_factory=VelocityAnalysisSettings)


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def settings_from_dict(config: dict, source: str = "config") -> Settings:
    """Validate ``config`` and build frozen :class:`Settings`."""
    d = validate_config(config, source)
    survey = dict(d["survey"])
    survey["headers"] = HeaderBytes(**survey["headers"])
    survey["live_trace_codes"] = _tuples(survey["live_trace_codes"])
    survey["exclude_traces"] = _tuples(survey["exclude_traces"])
    vel = dict(d["velocity"])
    vel["table"] = _tuples(vel["table"])
    vel["vrms_range_m_s"] = _tuples(vel["vrms_range_m_s"])
    aniso = dict(d["anisotropy"])
    aniso["table"] = _tuples(aniso["table"])
    mig = {k: _tuples(v) for k, v in d["migration"].items()}
    return Settings(
        results=d["results"],
        survey=SurveySettings(**survey),
        synthetic=d["synthetic"],
        velocity=VelocitySettings(**vel),
        anisotropy=AnisotropySettings(**aniso),
        grid=GridSettings(**d["grid"]),
        time=TimeSettings(**d["time"]),
        migration=MigrationSettings(**mig),
        optimization=OptimizationSettings(**d["optimization"]),
        mlx=MlxSettings(**d["mlx"]),
        profile=d["profile"],
        qc=d["qc"],
        output=d["output"],
        velocity_analysis=VelocityAnalysisSettings(**{k: _tuples(v) for k, v in d["velocity_analysis"].items()}),
    )


def load_settings(path: str | Path) -> Settings:
    """Read a YAML configuration file and return validated settings."""
    path = Path(path)
    return settings_from_dict(read_config_file(path), str(path))


def normalize(value: Any) -> Any:
    """Canonical, JSON-able form of settings: dataclasses as dicts, sorted keys, lists for tuples.

    Used for Snakemake ``params`` so that a rerun is triggered exactly when a
    value changes; numbers were already cast to the schema's types by
    :func:`validate_config`, so ``1`` and ``1.0`` in YAML give the same params.
    """
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): normalize(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def settings_hash(*parts: Any) -> str:
    """Short SHA-256 of the normalized JSON of ``parts`` (provenance)."""
    blob = json.dumps([normalize(p) for p in parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def schema_markdown() -> str:
    """Markdown table of every setting (key, type, default, description) from the schema.

    ``config/README.md`` embeds this table between markers; a test keeps it current.
    Regenerate with ``python -m pstm.config``.
    """
    rows = ["| key | type | default | description |", "|---|---|---|---|"]

    def fmt_type(sub):
        t = sub.get("type", "")
        t = "/".join(t) if isinstance(t, list) else t
        if "enum" in sub:
            t += ": " + ", ".join(f"`{v}`" for v in sub["enum"])
        for bound, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<=")):
            if bound in sub:
                t += f", {sym} {sub[bound]}"
        return t

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            full = f"{path}{key}"
            if sub.get("type") == "object":
                rows.append(f"| `{full}` | section | | {' '.join(sub.get('description', '').split())} |")
                walk(sub, f"{full}.")
            else:
                default = json.dumps(sub.get("default"))
                desc = " ".join(sub.get("description", "").split()).replace("|", "\\|")
                rows.append(f"| `{full}` | {fmt_type(sub)} | `{default}` | {desc} |")

    walk(load_schema(), "")
    return "\n".join(rows) + "\n"


TABLE_BEGIN = "<!-- settings table: generated by `python -m pstm.config`; do not edit by hand -->"
TABLE_END = "<!-- end of settings table -->"


if __name__ == "__main__":  # regenerate the table in config/README.md
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "config/README.md")
    text = target.read_text()
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    from pstm.io.atomic import write_text_atomic

    write_text_atomic(target, f"{head}{TABLE_BEGIN}\n{schema_markdown()}{TABLE_END}{tail}")
