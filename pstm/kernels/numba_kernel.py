"""The ``numba`` kernel: the fast paths where they apply, the general path otherwise.

* :mod:`pstm.kernels.numba_cpu`: linear interpolation with the dip aperture,
  isotropic (no extended option).
* :mod:`pstm.kernels.numba_taps`: float32, every other interpolation method
  (nearest, cubic, lanczos3, sinc8, sinc16) and triangle anti-aliasing, when no
  other extended option (eta, aperture table, opening angle, stretch mute) is on.
* :mod:`pstm.kernels.numba_general`: float64, every option of the reference kernel.

All are tested against the reference.
"""

from __future__ import annotations

import numpy as np

from pstm.kernels import numba_cpu, numba_general, numba_taps
from pstm.kernels.common import KernelParams, PillarSet, TraceGather

KERNEL_VERSION = f"{numba_cpu.KERNEL_VERSION}+{numba_taps.KERNEL_VERSION}+{numba_general.KERNEL_VERSION}"


def uses_fast_path(params: KernelParams, pillars: PillarSet | None = None) -> bool:
    """Whether the linear fast path computes this migration."""
    return not params.extended_features(pillars)


def uses_taps_path(params: KernelParams, pillars: PillarSet | None = None) -> bool:
    """Whether the multi-tap float32 path (interpolation methods, triangle anti-aliasing) computes it."""
    return numba_taps.handles(params, pillars)


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            progress=None) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` (see :mod:`pstm.kernels.reference`).

    Every path reports to ``progress`` (a :class:`pstm.progress.PillarProgress`) between ranges of pillars.
    """
    if uses_fast_path(params, pillars):
        return numba_cpu.migrate(traces, pillars, params, image, fold, progress)
    if uses_taps_path(params, pillars):
        return numba_taps.migrate(traces, pillars, params, image, fold, progress)
    return numba_general.migrate(traces, pillars, params, image, fold, progress)
