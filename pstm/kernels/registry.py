"""Kernels by name.

The YAML enum ``migration.kernel`` in the schema must list exactly the names in
:data:`KERNELS` (a test checks it).  A kernel module is imported only when it
is chosen, so an unavailable backend costs nothing until asked for, and then
fails with a message that says why.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from pstm.kernels.common import KernelOptionError, KernelUnavailable

__all__ = ["KERNELS", "KernelOptionError", "KernelSpec", "KernelUnavailable", "available_kernels",
           "check_kernel_options", "get_kernel", "kernel_path", "kernel_version"]


@dataclass(frozen=True)
class KernelSpec:
    """What a kernel is and what it can honour.

    Attributes
    ----------
    name : str
        The name used in YAML.
    module : str
        Module holding ``migrate`` (and ``KERNEL_VERSION``).
    description : str
        One line for documentation.
    features : frozenset of str
        Imaging options beyond linear interpolation with the plain dip
        aperture that it implements (names as in
        :meth:`pstm.kernels.common.KernelParams.extended_features`, ``interpolation``
        standing for every method).
    reports_progress : bool
        Its ``migrate`` takes ``progress`` (a :class:`pstm.progress.PillarProgress`) and reports to it
        between ranges of pillars of one prepared call; for the others :func:`pstm.migrate.run_kernel`
        calls the kernel once per range of pillars.
    """

    name: str
    module: str
    description: str
    features: frozenset = frozenset()
    reports_progress: bool = False


#: Every extended imaging option.
ALL_FEATURES = frozenset({"interpolation", "antialias", "aperture_table", "max_opening_angle_deg", "stretch_mute",
                          "eta", "weights", "angle_classes_deg"})

KERNELS: dict[str, KernelSpec] = {
    "reference": KernelSpec("reference", "pstm.kernels.reference", "numpy, float64, readable: the specification",
                            ALL_FEATURES, reports_progress=True),
    "numba": KernelSpec("numba", "pstm.kernels.numba_kernel", "numba, parallel over pillars (float32 fast path)",
                        ALL_FEATURES, reports_progress=True),
    "mlx": KernelSpec("mlx", "pstm.kernels.mlx_kernel", "MLX, float32, batched; custom kernels on Metal and CUDA"),
    "hybrid": KernelSpec("hybrid", "pstm.kernels.hybrid",
                         "numba on CPU threads and mlx side by side, taking blocks of pillars from one queue",
                         reports_progress=True),
}


def kernel_path(name: str) -> str:
    """Which path of kernel ``name`` ran the latest call in this thread (for provenance), or ``name``.

    A kernel module that has more than one path says which by a ``last_path()`` function.
    """
    last_path = getattr(importlib.import_module(_spec(name).module), "last_path", None)
    return (last_path() if last_path is not None else None) or name


def available_kernels() -> list[str]:
    """Names of all registered kernels."""
    return list(KERNELS)


def _spec(name: str) -> KernelSpec:
    try:
        return KERNELS[name]
    except KeyError:
        raise KernelUnavailable(f"unknown kernel {name!r}; valid kernels: {', '.join(KERNELS)}") from None


def _unsupported(spec: KernelSpec, used: list[str]) -> list[str]:
    return [u for u in used if u.split("=")[0] not in spec.features]


def check_kernel_options(name: str, used: list[str]) -> None:
    """Raise :class:`KernelOptionError` when kernel ``name`` cannot honour an option in ``used``.

    ``used`` names options as :meth:`pstm.kernels.common.KernelParams.extended_features` does.  An unknown
    kernel name is :class:`KernelUnavailable`.
    """
    spec = _spec(name)
    missing = _unsupported(spec, used)
    if missing:
        offers = ", ".join(sorted(spec.features)) or "none of the extended options"
        raise KernelOptionError(f"kernel {name!r} cannot honour {', '.join(missing)} (it offers {offers}); "
                                "switch the option off or choose kernel 'numba' or 'reference'")


def get_kernel(name: str) -> Callable:
    """Return the ``migrate`` function of kernel ``name``.

    The returned function refuses, with ``ValueError``, any option the kernel
    does not implement, so no option is ever silently ignored.
    """
    spec = _spec(name)
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise KernelUnavailable(f"kernel {name!r} needs a module that is not installed: {exc}") from exc
    inner = module.migrate

    def migrate(traces, pillars, params, image, fold, progress=None, **angle_gathers):
        missing = _unsupported(spec, params.extended_features(pillars))
        if missing:
            raise KernelOptionError(f"kernel {name!r} cannot honour {', '.join(missing)}; switch it off or choose "
                             "kernel 'numba' or 'reference'")
        # angle_image / angle_fold go only to kernels that honour angle_classes_deg (checked above)
        angle_gathers = {k: v for k, v in angle_gathers.items() if v is not None}
        if progress is None:
            return inner(traces, pillars, params, image, fold, **angle_gathers)
        if not spec.reports_progress:
            raise TypeError(f"kernel {name!r} does not report progress itself; call it through "
                            "pstm.migrate.run_kernel, which runs it on ranges of pillars")
        return inner(traces, pillars, params, image, fold, progress=progress, **angle_gathers)

    migrate.__doc__ = inner.__doc__
    migrate.__wrapped__ = inner
    migrate.reports_progress = spec.reports_progress
    return migrate


def kernel_version(name: str) -> str:
    """Code version of kernel ``name`` (part of each tile's rerun trigger)."""
    spec = _spec(name)
    module = importlib.import_module(spec.module)
    return getattr(module, "KERNEL_VERSION", f"{name}-1")
