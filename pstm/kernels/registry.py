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


class KernelUnavailable(RuntimeError):
    """The chosen kernel cannot run here (a missing module or device)."""


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
    interpolations : tuple of str
        Interpolation methods it implements.
    """

    name: str
    module: str
    description: str
    interpolations: tuple = ("linear",)


KERNELS: dict[str, KernelSpec] = {
    "reference": KernelSpec("reference", "pstm.kernels.reference", "numpy, float64, readable: the specification"),
    "numba": KernelSpec("numba", "pstm.kernels.numba_cpu", "numba, float32, parallel over pillars"),
    "mlx": KernelSpec("mlx", "pstm.kernels.mlx_kernel", "MLX, float32, batched; custom kernels on Metal and CUDA"),
}


def available_kernels() -> list[str]:
    """Names of all registered kernels."""
    return list(KERNELS)


def _spec(name: str) -> KernelSpec:
    try:
        return KERNELS[name]
    except KeyError:
        raise KernelUnavailable(f"unknown kernel {name!r}; valid kernels: {', '.join(KERNELS)}") from None


def check_kernel_options(name: str, migration: dict, source: str = "config") -> None:
    """Raise a ConfigError when ``name`` cannot honour a migration option."""
    from pstm.config import ConfigError

    spec = _spec(name)
    interp = migration.get("interpolation", "linear")
    if interp not in spec.interpolations:
        raise ConfigError(
            f"{source}: migration.interpolation {interp!r} is not implemented by kernel {name!r} "
            f"(it offers {', '.join(spec.interpolations)}); choose one of those or another kernel"
        )


def get_kernel(name: str) -> Callable:
    """Return the ``migrate`` function of kernel ``name``."""
    spec = _spec(name)
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise KernelUnavailable(f"kernel {name!r} needs a module that is not installed: {exc}") from exc
    return module.migrate


def kernel_version(name: str) -> str:
    """Code version of kernel ``name`` (part of each tile's rerun trigger)."""
    spec = _spec(name)
    module = importlib.import_module(spec.module)
    return getattr(module, "KERNEL_VERSION", f"{name}-1")
